"""Signing in on the approval page: one-time codes bound to a principal, and the short session cookie they open.

Over authenticated HTTP the approval link reaches the person through the model, so the page must know who is
looking at it. Two ways in, both ending in the same session cookie bound to one principal name (the name the
ledger stores in `PendingWrite.principal`):

- a one-time **sign-in code**, issued to a principal by `cleavr-mcp approvals sign-in-code --principal NAME` or by
  the admin endpoint a platform calls for its own dashboard (`POST /approvals/sign-in-codes`), typed on the page;
- the OAuth/OIDC login (`oidc.py`), when configured.

Codes: 12 characters of Crockford base32 (60 bits, grouped `XXXX-XXXX-XXXX`; O/I/L read as 0/1/1, case and
dashes ignored), valid for minutes, single use. Only their SHA-256 is stored, in the shared state database, so any
replica accepts a code and a copy of the database signs nobody in. Redeeming is one conditional UPDATE (unused,
unexpired, this principal): two concurrent redemptions cannot both win, and a code of principal B is never spent
on, nor accepted for, A's write. The lookup is by the code's digest, so its timing says nothing about the code;
the principal is compared with `hmac.compare_digest`.

Guessing is bounded where it happens: every attempt is recorded (shared by replicas) for the approval and for the
client address *before* the code is looked at, and forgotten only when it succeeds - so even concurrent guesses
cannot exceed the approval's limit (the client limit is checked first and adds nothing once reached, so a flood
cannot grow the table). After `MAX_FAILURES_PER_APPROVAL` wrong codes the approval is locked (declined: nothing
is sent; the assistant must ask again); a client address with `MAX_FAILURES_PER_CLIENT` failures within
`CLIENT_WINDOW_SECONDS` is refused without a code being looked at.

The session cookie holds the principal name and an expiry, HMAC-signed with a key derived from the confirmation
key (so every replica sharing that key accepts it): HttpOnly, SameSite=Strict, Secure (and the `__Host-` prefix)
when the page is served over https, and short-lived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from ...storage import Store

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 12  # 60 bits
MAX_FAILURES_PER_APPROVAL = 5
MAX_FAILURES_PER_CLIENT = 20
CLIENT_WINDOW_SECONDS = 15 * 60
ATTEMPTS_KEPT_SECONDS = 24 * 3600  # longer than any approval lives (the confirmation TTL) and the client window
MAX_PRINCIPAL_LENGTH = 200
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_PRINCIPAL = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")  # printable ASCII, no edge spaces

Redeemed = Literal["ok", "invalid", "locked", "throttled"]


class SignInError(ValueError):
    """A sign-in code cannot be issued as asked; the message says what to change."""


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str | None:
    """The code as stored (12 alphabet characters), from what a person typed; None when it cannot be one."""
    cleaned = re.sub(r"[\s\-]", "", (text or "")[:64]).upper().translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def code_digest(code: str) -> str:
    return hashlib.sha256(b"cleavr-mcp/sign-in-code/v1:" + code.encode()).hexdigest()


def check_principal(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_PRINCIPAL_LENGTH or not _PRINCIPAL.match(name):
        raise SignInError(f"principal: give the principal's name as the ledger records it (printable ASCII, 1 to "
                          f"{MAX_PRINCIPAL_LENGTH} characters), e.g. the name in the principals file")
    return name


def check_known(name: str, directory) -> None:
    """With a principals file, a code for a name it does not hold would sign nobody in: say so now (a typo)."""
    if directory is None or getattr(directory, "path", None) is None or name.startswith(("token:", "jwt:", "jwt-client:")):
        return
    directory.refresh()
    if name not in directory.file.by_name():
        raise SignInError(f"principal: {name!r} is not in the principals file; give the `name` of one of its "
                          "[[principals]] entries")


@dataclass(frozen=True)
class IssuedCode:
    code: str
    principal: str
    expires_at: float


class SignInStore(Store):
    """Tables `approval_signin_codes` and `approval_signin_attempts` (migration in storage/migrations.py)."""

    async def issue(self, principal: str, *, ttl_seconds: float, now: float | None = None) -> IssuedCode:
        principal = check_principal(principal)
        if not 60 <= ttl_seconds <= 24 * 3600:
            raise SignInError("a sign-in code lives between 1 minute and 24 hours; choose --minutes in that range")
        now = time.time() if now is None else now
        code = new_code()
        await self.db.execute("DELETE FROM approval_signin_codes WHERE expires_at < ?", (now - 3600,))
        await self.db.execute("DELETE FROM approval_signin_attempts WHERE at < ?", (now - ATTEMPTS_KEPT_SECONDS,))
        await self.db.execute(
            "INSERT INTO approval_signin_codes (code_sha256, principal, created_at, expires_at, used_at) "
            "VALUES (?, ?, ?, ?, NULL)", (code_digest(normalize_code(code) or ""), principal, now, now + ttl_seconds))
        return IssuedCode(code, principal, now + ttl_seconds)

    async def redeem(self, typed: str, principal: str, now: float) -> bool:
        """Spend the code for `principal`, once. False for a wrong, expired, used or other principal's code."""
        code = normalize_code(typed)
        if code is None:
            return False
        digest = code_digest(code)
        row = await self.db.fetchone(
            "SELECT principal FROM approval_signin_codes WHERE code_sha256 = ? AND used_at IS NULL AND expires_at > ?",
            (digest, now))
        if row is None or not hmac.compare_digest(str(row["principal"]).encode(), principal.encode()):
            return False
        changed = await self.db.execute(
            "UPDATE approval_signin_codes SET used_at = ? WHERE code_sha256 = ? AND principal = ? "
            "AND used_at IS NULL AND expires_at > ?", (now, digest, principal, now))
        return changed == 1

    async def begin_attempt(self, scopes: list[str], now: float) -> str:
        """Count this attempt before the code is looked at (committed first, so concurrent guesses all see it)."""
        attempt = secrets.token_hex(8)
        for scope in scopes:
            await self.db.execute("INSERT INTO approval_signin_attempts (attempt, scope, at) VALUES (?, ?, ?)",
                                  (attempt, scope, now))
        return attempt

    async def forget_attempt(self, attempt: str) -> None:
        """A successful attempt is not a failure."""
        await self.db.execute("DELETE FROM approval_signin_attempts WHERE attempt = ?", (attempt,))

    async def attempts(self, scope: str, since: float) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM approval_signin_attempts WHERE scope = ? AND at >= ?", (scope, since))
        return int(row["n"]) if row else 0


# --- the session cookie -----------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """HMAC-signed, expiring JSON values for cookies (the session, the OIDC round trip), one key per purpose."""

    def __init__(self, key: bytes, purpose: str) -> None:
        self._key = hmac.new(key, b"cleavr-mcp/approvals/" + purpose.encode(), hashlib.sha256).digest()

    def seal(self, value: dict, *, expires_at: float) -> str:
        body = _b64(json.dumps({**value, "exp": int(expires_at)}, separators=(",", ":"), sort_keys=True).encode())
        return body + "." + _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def open(self, sealed: str | None, now: float) -> dict | None:
        if not sealed or len(sealed) > 4096 or sealed.count(".") != 1:
            return None
        body, _, signature = sealed.partition(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        try:
            value = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("exp"), int) or value["exp"] <= now:
            return None
        return value


def session_cookie_name(secure: bool) -> str:
    # __Host-: the browser keeps it only when Secure, Path=/ and no Domain, so no sibling host can plant one.
    return "__Host-cleavr-approval" if secure else "cleavr-approval"


class Sessions:
    """Who is signed in on this browser: a principal name, until a near expiry."""

    def __init__(self, key: bytes, *, lifetime_seconds: float) -> None:
        self._sealer = Sealer(key, "session/v1")
        self.lifetime_seconds = lifetime_seconds

    def cookie_value(self, principal: str, now: float) -> str:
        return self._sealer.seal({"p": principal, "n": secrets.token_urlsafe(8)}, expires_at=now + self.lifetime_seconds)

    def principal(self, cookie: str | None, now: float) -> str | None:
        value = self._sealer.open(cookie, now)
        principal = value.get("p") if value else None
        return principal if isinstance(principal, str) else None

    def set_cookie(self, response, principal: str, now: float, *, secure: bool) -> None:
        response.set_cookie(session_cookie_name(secure), self.cookie_value(principal, now),
                            max_age=int(self.lifetime_seconds), path="/", secure=secure, httponly=True,
                            samesite="strict")
