"""The principals file: who may call the HTTP server, for which creditors, under which ceilings.

`CLEAVR_MCP_PRINCIPALS_FILE` names a TOML file of `[[principals]]` tables (see README "Principals"). It is read at
start-up — a broken file is a config error naming the principal and the field — and re-read when its mtime
changes (checked at most once a second) or on SIGHUP; a broken re-read keeps the last good file and logs why
(never a token hash or a user id).

`PrincipalDirectory.principal_for(access_token)` maps a verified bearer token to a `domain.tenancy.Principal`:
- a token whose SHA-256 is a file principal's `token_sha256` → that principal;
- a legacy `CLEAVR_MCP_AUTH_TOKENS` / `AUTH_TOKEN_HASHES` token → `token:<12 hex>`, every creditor;
- a JWT whose `sub` is a file principal's `jwt_subject` → that principal (its scopes may only tighten it);
- a JWT carrying the user-ids claim → `jwt:<sub>` (no sub: `jwt-client:<client_id>`) for those creditors, ceilings from its `cleavr:*` scopes;
- any other JWT → no creditor at all, unless nothing tenant-aware is configured (no principals file, no claim
  setting): then today's all-creditor principal, which `doctor` warns about on a public bind.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import signal
import stat
import threading
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..domain.tenancy import EVERY_CREDITOR, Principal

logger = logging.getLogger("cleavr_mcp.server.principals")

MAX_FILE_BYTES = 1024 * 1024  # a principals file is a few KB; anything this big is a mistake or an attack
RELOAD_CHECK_SECONDS = 1.0
DEFAULT_USER_IDS_CLAIM = "cleavr_user_ids"
# Claims our own verifiers put on an AccessToken (a JWT's own claims are never copied under these names).
PRINCIPAL_CLAIM = "cleavr-mcp/principal"
JWT_USER_IDS_CLAIM = "cleavr-mcp/user_ids"
JWT_MARK = "cleavr-mcp/jwt"

SCOPE_READ, SCOPE_WRITE, SCOPE_MONEY, SCOPE_ADMIN = "cleavr:read", "cleavr:write", "cleavr:money", "cleavr:admin"

_FIELDS = {"name", "token_sha256", "jwt_subject", "user_ids", "read_only", "no_money", "toolsets", "create_users",
           "cleverinvo_api_key_env"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# Cleavr ids are ASCII (usr_clv_…); anything else (spaces, look-alike letters, zero-width characters) is refused so
# that two spellings of one creditor can never both be configured or compared.
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_PREFIXES = ("token:", "jwt:", "jwt-client:")  # names the server gives legacy tokens and claim-only JWTs
RESERVED_NAMES = ("local", "nobody")


class PrincipalsFileError(ValueError):
    """The principals file cannot be used; the message names the file, the principal and the field."""


@dataclass(frozen=True)
class FileEntry:
    principal: Principal
    token_sha256: str | None
    jwt_subject: str | None


@dataclass(frozen=True)
class PrincipalsFile:
    entries: tuple[FileEntry, ...]

    def by_name(self) -> dict[str, FileEntry]:
        return {e.principal.name: e for e in self.entries}


def _known_toolsets() -> frozenset[str]:
    from ..toolkit.registry import Toolset
    return frozenset(t.value for t in Toolset)


def parse_principals(text: str, *, source: str = "principals file") -> PrincipalsFile:
    """Validate the TOML text; PrincipalsFileError names what is wrong (never a hash or a user id)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PrincipalsFileError(f"{source} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"principals"})
    if unknown:
        raise PrincipalsFileError(f"{source}: unknown top-level key(s) {', '.join(unknown)}; only [[principals]] "
                                  "tables belong in it")
    raw = data.get("principals", [])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise PrincipalsFileError(f"{source}: `principals` must be an array of tables ([[principals]])")
    entries: list[FileEntry] = []
    names: set[str] = set()
    hashes: set[str] = set()
    subjects: set[str] = set()
    toolsets = _known_toolsets()
    for number, item in enumerate(raw, start=1):
        entry = _entry(item, number, source, toolsets)
        name = entry.principal.name
        where = f"{source}: principal '{name}' (entry {number})"
        if name in names:
            raise PrincipalsFileError(f"{where}: the name is used by an earlier entry; names must be unique")
        if entry.token_sha256 is not None and entry.token_sha256 in hashes:
            raise PrincipalsFileError(f"{where}: token_sha256 is the same as an earlier principal's; one token "
                                      "must name one principal (make a new one with `cleavr-mcp auth new-token`)")
        if entry.jwt_subject is not None and entry.jwt_subject in subjects:
            raise PrincipalsFileError(f"{where}: jwt_subject is the same as an earlier principal's")
        names.add(name)
        hashes.add(entry.token_sha256 or "")
        subjects.add(entry.jwt_subject or "")
        entries.append(entry)
    return PrincipalsFile(tuple(entries))


def _entry(item: Mapping[str, Any], number: int, source: str, toolsets: frozenset[str]) -> FileEntry:
    name = item.get("name")
    label = f"principal '{name}' (entry {number})" if isinstance(name, str) and _NAME.match(name) else \
        f"entry {number}"
    where = f"{source}: {label}"

    def fail(field: str, problem: str) -> PrincipalsFileError:
        return PrincipalsFileError(f"{where}: `{field}` {problem}")

    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise fail(unknown[0], f"is not a known field (known: {', '.join(sorted(_FIELDS))})")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name", "must be 1-64 ASCII letters, digits, '_', '-', '.', '@', starting with a letter or digit")
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        raise fail("name", f"'{name}' is reserved for the server's own principals; choose another name")
    token = item.get("token_sha256")
    if token is not None:
        if not isinstance(token, str) or not _HEX64.match(token.strip().lower()):
            raise fail("token_sha256", "must be the SHA-256 of the token as 64 hex characters "
                       "(`cleavr-mcp auth new-token --principal NAME` writes it)")
        token = token.strip().lower()
    subject = item.get("jwt_subject")
    if subject is not None and (not isinstance(subject, str) or not subject.strip() or subject != subject.strip()):
        raise fail("jwt_subject", "must be the JWT `sub` as a non-empty string without surrounding spaces")
    if token is None and subject is None:
        raise fail("token_sha256", "is missing: give token_sha256 or jwt_subject, or the principal can never sign in")
    if "user_ids" not in item:
        raise fail("user_ids", 'is missing: list the Cleavr user ids it acts for, or ["*"] for every creditor')
    user_ids = _user_ids(item["user_ids"], fail)
    flags = {}
    for flag in ("read_only", "no_money", "create_users"):
        value = item.get(flag, False)
        if not isinstance(value, bool):
            raise fail(flag, "must be true or false")
        flags[flag] = value
    sets = item.get("toolsets")
    if sets is not None:
        if not isinstance(sets, list) or not sets or not all(isinstance(s, str) for s in sets):
            raise fail("toolsets", f"must be a non-empty list of toolset names ({', '.join(sorted(toolsets))})")
        bad = sorted(set(sets) - toolsets)
        if bad:
            raise fail("toolsets", f"names unknown toolset(s) {', '.join(bad)} (known: {', '.join(sorted(toolsets))})")
        sets = frozenset(sets)
    env = item.get("cleverinvo_api_key_env")
    if env is not None and (not isinstance(env, str) or not _ENV_NAME.match(env)):
        raise fail("cleverinvo_api_key_env", "must be the NAME of an environment variable (never the key itself)")
    principal = Principal(name=name, user_ids=user_ids, toolsets=sets, cleverinvo_api_key_env=env,
                          source="principals-file", **flags)
    return FileEntry(principal, token, subject)


def _user_ids(value: Any, fail) -> frozenset[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail("user_ids", 'must be a list of strings: ["usr_clv_…", …], or ["*"] for every creditor')
    if EVERY_CREDITOR in value:
        if len(value) != 1:
            raise fail("user_ids", 'mixes "*" with ids: "*" already means every creditor; give ["*"] alone')
        return None
    seen: set[str] = set()
    for index, user_id in enumerate(value):
        if not USER_ID.match(user_id):
            raise fail(f"user_ids[{index}]", "is not a Cleavr user id (ASCII letters, digits, '_', '-', '.', ':'; "
                       "no spaces or look-alike characters)")
        if user_id in seen:
            raise fail(f"user_ids[{index}]", "repeats an earlier id")
        seen.add(user_id)
    return frozenset(value)


def read_principals_file(path: Path) -> tuple[PrincipalsFile, tuple[int, int, int]]:
    """Parse the file at `path` (a regular file, at most 1 MiB, not writable by every user); also its (inode, size,
    mtime). Symbolic links are followed: a Kubernetes ConfigMap or Secret is mounted as links re-pointed on update,
    and whoever could re-point a link in that folder could replace the file as well. The checks apply to the file
    actually opened."""
    source = f"principals file {path}"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise PrincipalsFileError(f"{source} does not exist (CLEAVR_MCP_PRINCIPALS_FILE): create it, e.g. with "
                                  "`cleavr-mcp auth new-token --principal NAME --user-id …`") from None
    except OSError as exc:
        raise PrincipalsFileError(f"{source} cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = f"{source} is not a regular file"
    elif info.st_mode & stat.S_IWOTH:
        problem = (f"{source} is writable by every user of this machine (anyone could grant themselves "
                   f"creditors): chmod o-w {path}")
    elif info.st_size > MAX_FILE_BYTES:
        problem = f"{source} is {info.st_size} bytes; a principals file may be at most {MAX_FILE_BYTES} bytes"
    if problem is not None:
        os.close(fd)
        raise PrincipalsFileError(problem)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PrincipalsFileError(f"{source} grew past {MAX_FILE_BYTES} bytes while being read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PrincipalsFileError(f"{source} is not UTF-8 (byte {exc.start})") from None
    return parse_principals(text, source=source), (info.st_ino, info.st_size, info.st_mtime_ns)


MISSING = (0, 0, 0)  # the signature of a file that is not there

NOBODY = Principal(name="nobody", user_ids=frozenset(), read_only=True, no_money=True, source="jwt")


class PrincipalDirectory:
    """The current principals file (reloaded on change or SIGHUP) and the mapping token → Principal."""

    def __init__(self, settings: Any, *, clock=time.monotonic) -> None:
        self.path: Path | None = settings.principals_file
        self.claim = settings.jwt_user_ids_claim or DEFAULT_USER_IDS_CLAIM
        # Legacy mode: nothing tenant-aware configured, so a JWT without the claim is every creditor (as before).
        self.legacy_jwt = settings.principals_file is None and settings.jwt_user_ids_claim is None
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at = -1e18
        self._reload_requested = False
        self._signature: tuple[int, int, int] | None = None
        self.file = PrincipalsFile(())
        self._by_hash: dict[bytes, FileEntry] = {}
        self._by_subject: dict[str, FileEntry] = {}
        self._by_name: dict[str, FileEntry] = {}
        self.reloads = 0
        if self.path is not None:
            self._install(*read_principals_file(self.path))  # at start-up a broken file is fatal

    # --- the file ---------------------------------------------------------------------------------------------
    def _install(self, parsed: PrincipalsFile, signature: tuple[int, int, int]) -> None:
        self.file = parsed
        self._signature = signature
        self._by_hash = {bytes.fromhex(e.token_sha256): e for e in parsed.entries if e.token_sha256}
        self._by_subject = {e.jwt_subject: e for e in parsed.entries if e.jwt_subject}
        self._by_name = parsed.by_name()

    def request_reload(self) -> None:
        """SIGHUP: re-read at the next request, whatever the mtime says."""
        self._reload_requested = True

    def install_sighup(self) -> bool:
        if self.path is None or not hasattr(signal, "SIGHUP"):
            return False
        try:
            signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
        except ValueError:  # not the main thread (tests building servers in threads)
            return False
        return True

    def refresh(self) -> None:
        """Re-read the file when it changed (stat at most once a second) or a reload was requested."""
        if self.path is None:
            return
        now = self._clock()
        if not self._reload_requested and now - self._checked_at < RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            if not self._reload_requested and now - self._checked_at < RELOAD_CHECK_SECONDS:
                return
            forced, self._reload_requested = self._reload_requested, False
            self._checked_at = now
            try:
                info = os.stat(self.path)  # through the links: a re-pointed ConfigMap link is a new file
                signature = (info.st_ino, info.st_size, info.st_mtime_ns)
            except OSError:
                signature = MISSING  # gone: said once, then quiet until it is back
            if not forced and signature == self._signature:
                return
            try:
                parsed, signature = read_principals_file(self.path)
            except PrincipalsFileError as exc:
                logger.warning("principals file not reloaded, keeping the last good one (%d principals): %s",
                               len(self.file.entries), exc)
                self._signature = signature  # this broken (or missing) state is logged once
                return
            self._install(parsed, signature)
            self.reloads += 1
            logger.info("principals file reloaded: %d principals", len(parsed.entries))

    # --- tokens -----------------------------------------------------------------------------------------------
    def entry_for_token(self, token: str) -> FileEntry | None:
        self.refresh()
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, entry in self._by_hash.items():  # every digest compared: no timing hint about which matched
            if hmac.compare_digest(presented, digest):
                found = entry
        return found

    def entry_for_subject(self, subject: str) -> FileEntry | None:
        """The file principal whose `jwt_subject` is this subject (the approval page's OIDC login uses it too)."""
        self.refresh()
        return self._by_subject.get(subject)

    def principal_for(self, access_token: Any) -> Principal:
        """The principal of a verified access token (None: no auth on this request → the local principal)."""
        from ..domain.tenancy import LOCAL

        if access_token is None:
            return LOCAL
        claims = getattr(access_token, "claims", None) or {}
        self.refresh()
        name = claims.get(PRINCIPAL_CLAIM)
        if name is not None:
            entry = self._by_name.get(name)
            return entry.principal if entry is not None else NOBODY  # removed from the file since
        if claims.get(JWT_MARK):
            return self._jwt_principal(access_token, claims)
        client_id = str(getattr(access_token, "client_id", "") or "")
        if client_id.startswith("token:"):
            return Principal(name=client_id, user_ids=None, create_users=True, source="token")  # as before #15
        return NOBODY

    def _jwt_principal(self, access_token: Any, claims: Mapping[str, Any]) -> Principal:
        subject = getattr(access_token, "subject", None)
        scopes = set(getattr(access_token, "scopes", None) or [])
        entry = self._by_subject.get(subject) if subject else None
        if entry is not None:
            principal = entry.principal
            return _tightened_by_scopes(principal, scopes) if scopes & _CLEAVR_SCOPES else principal
        # A subject-less (client-credentials) JWT is named apart: its client_id must never pass for a subject.
        who = f"jwt:{subject}" if subject else f"jwt-client:{getattr(access_token, 'client_id', None) or 'anonymous'}"
        if JWT_USER_IDS_CLAIM in claims:
            user_ids = _claim_user_ids(claims[JWT_USER_IDS_CLAIM])
            if user_ids is False:
                return replace(NOBODY, name=who)
            base = Principal(name=who, user_ids=user_ids, source="jwt")
            return _tightened_by_scopes(base, scopes, from_scopes_only=True)
        if self.legacy_jwt:
            from .approvals.service import principal_of_token

            return Principal(name=principal_of_token(access_token), user_ids=None, create_users=True, source="jwt")
        return replace(NOBODY, name=who)


_CLEAVR_SCOPES = {SCOPE_READ, SCOPE_WRITE, SCOPE_MONEY, SCOPE_ADMIN}


def _tightened_by_scopes(principal: Principal, scopes: set[str], *, from_scopes_only: bool = False) -> Principal:
    """cleavr:read only → read-only; cleavr:write without cleavr:money → no money; cleavr:admin → create_users
    (admin implies write and money). A principal from the file keeps its own ceilings and may only lose rights."""
    admin = SCOPE_ADMIN in scopes
    writes = admin or SCOPE_WRITE in scopes
    money = admin or SCOPE_MONEY in scopes
    create = admin if from_scopes_only else (principal.create_users and admin)
    return replace(principal, read_only=principal.read_only or not writes,
                   no_money=principal.no_money or not money, create_users=create)


def _claim_user_ids(value: Any) -> frozenset[str] | None | bool:
    """The user-ids claim: "*" (or ["*"]) → None (every creditor); a list of ids → them; anything else → False."""
    if value == EVERY_CREDITOR or value == [EVERY_CREDITOR]:
        return None
    if isinstance(value, list) and all(isinstance(v, str) and USER_ID.match(v) for v in value):
        return frozenset(value)
    return False


class PrincipalsFileVerifier:
    """Accepts the bearer tokens of the principals file (by their SHA-256, re-read when the file changes)."""

    def __init__(self, directory: PrincipalDirectory) -> None:
        self.directory = directory

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        entry = self.directory.entry_for_token(token)
        if entry is None:
            return None
        fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
        return AccessToken(token=fingerprint, client_id=f"principal:{entry.principal.name}", scopes=[],
                           claims={PRINCIPAL_CLAIM: entry.principal.name})
