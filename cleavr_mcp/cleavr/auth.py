"""OAuth 2.0 for Cleavr Connect: access tokens that refresh themselves, a 0600 token file, the code flow helpers.

- `TokenManager.access_token()` refreshes shortly before expiry; `force_refresh(failed_token)` after a 401. Both are
  single-flight: however many requests find the token stale at once, one refresh request is made and the others
  wait for it and reuse its result.
- Refresh tokens rotate (contract §2): each new pair is written to the token file atomically (temp file in the same
  directory, fsync, os.replace) with mode 0600, so a crash never leaves a half-written file and a restart resumes
  with the newest refresh token.
- `StaticToken` wraps a bare configured access token (no refresh possible).
- Across replicas (`CLEAVR_MCP_DATABASE_URL=postgresql://…`) the token pair lives in the shared database instead
  (`DatabaseTokenStore`): a refresh runs under a row lock (`SELECT … FOR UPDATE`) taken before the token request
  and released after the new pair is committed, and re-reads the row first, so only one replica refreshes, the
  others adopt its pair, and a rotated refresh token is never sent twice.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlparse

import anyio
import httpx2
from pydantic import SecretStr, ValidationError

from .contract import Paths
from .errors import CleavrAuthError, CleavrTransportError, error_from_response
from .logs import logger
from .models import TokenResponse
from .retry import NOT_SENT_ERRORS, RetryPolicy

DEFAULT_REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is treated as stale
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/oauth/callback"


class AccessTokenProvider(Protocol):
    async def access_token(self) -> str: ...

    async def force_refresh(self, failed_token: str) -> None: ...


class StaticToken:
    """A configured access token used as is. A 401 cannot be repaired: the caller gets CleavrAuthError."""

    def __init__(self, token: str | SecretStr) -> None:
        self._token = token.get_secret_value() if isinstance(token, SecretStr) else token

    def __repr__(self) -> str:
        return "StaticToken(****)"

    async def access_token(self) -> str:
        return self._token

    async def force_refresh(self, failed_token: str) -> None:
        raise CleavrAuthError(
            "The configured Cleavr access token was refused and cannot be refreshed (no refresh token is "
            "configured). Configure a new token, or log in with `cleavr-mcp login`.",
            status=401,
        )


# --- Token file ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenSet:
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # epoch seconds; None = unknown (used until the API answers 401)
    issued_at: float | None = None  # epoch seconds, to keep the refresh margin below the token's lifetime
    scope: str | None = None
    # Hash of the configured refresh token this set descends from: a newly configured token wins over the file.
    seeded_from: str | None = None

    @classmethod
    def from_response(cls, resp: TokenResponse, *, now: float, previous: TokenSet | None = None) -> TokenSet:
        return cls(
            access_token=resp.access_token,
            # Rotation is expected; if the server ever keeps the old refresh token, keep using it.
            refresh_token=resp.refresh_token or (previous.refresh_token if previous else None),
            expires_at=now + resp.expires_in if resp.expires_in else None,
            issued_at=now,
            scope=resp.scope or (previous.scope if previous else None),
            seeded_from=previous.seeded_from if previous else None,
        )


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenStore:
    """Tokens as JSON in one file (mode 0600, directory 0700), replaced atomically on every save."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> TokenSet | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            logger.warning("token file %s is unreadable; ignoring it", self.path)
            return None
        if not isinstance(raw, dict):
            return None
        known = {k: raw.get(k) for k in ("access_token", "refresh_token", "expires_at", "issued_at", "scope",
                                         "seeded_from")}
        return TokenSet(**known)

    def exists(self) -> bool:
        return self.path.is_file()

    def save_refresh_token(self, refresh_token: str) -> None:
        """Seed the file with a configured refresh token (the first refresh fills in the access token)."""
        self.save(TokenSet(refresh_token=refresh_token, seeded_from=fingerprint(refresh_token)))

    def save(self, tokens: TokenSet | TokenResponse) -> None:
        """Write atomically with mode 0600. A TokenResponse (straight from the code flow) is stored as a fresh pair."""
        if isinstance(tokens, TokenResponse):
            tokens = TokenSet.from_response(tokens, now=time.time())
            if tokens.refresh_token:
                tokens = replace(tokens, seeded_from=fingerprint(tokens.refresh_token))
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_at": tokens.expires_at,
                "issued_at": tokens.issued_at,
                "scope": tokens.scope,
                "seeded_from": tokens.seeded_from,
            }
        ).encode()
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=directory)  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()




class DatabaseTokenStore:
    """The token pair as one row of the shared state database (`oauth_tokens`), for replicas.

    `locked()` holds the row lock for the whole refresh: another replica's `locked()` waits, then reads the pair
    the first one committed."""

    COLUMNS = ("access_token", "refresh_token", "expires_at", "issued_at", "scope", "seeded_from")

    def __init__(self, database: Any, name: str = "cleavr") -> None:
        self.db = database
        self.name = name

    def __repr__(self) -> str:
        return f"DatabaseTokenStore({self.db.describe()!r}, {self.name!r})"

    @staticmethod
    def _tokens(row: dict[str, Any] | None) -> TokenSet | None:
        if row is None or not (row.get("refresh_token") or row.get("access_token")):
            return None
        return TokenSet(**{k: row.get(k) for k in DatabaseTokenStore.COLUMNS})

    async def load(self) -> TokenSet | None:
        return self._tokens(await self.db.fetchone(
            f"SELECT {', '.join(self.COLUMNS)} FROM oauth_tokens WHERE name = ?", (self.name,)))

    @contextlib.asynccontextmanager
    async def locked(self):
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        async with self.db.transaction() as tx:
            await tx.execute("INSERT INTO oauth_tokens (name, updated_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                             (self.name, time.time()))
            row = await tx.fetchone(f"SELECT {', '.join(self.COLUMNS)}, generation FROM oauth_tokens WHERE name = ?"
                                    f"{lock}", (self.name,))
            yield _LockedTokens(tx, self.name, self._tokens(row), int(row["generation"]))


class _LockedTokens:
    def __init__(self, tx: Any, name: str, current: TokenSet | None, generation: int) -> None:
        self._tx = tx
        self.name = name
        self.current = current
        self.generation = generation

    async def save(self, tokens: TokenSet) -> None:
        await self._tx.execute(
            "UPDATE oauth_tokens SET access_token = ?, refresh_token = ?, expires_at = ?, issued_at = ?, scope = ?, "
            "seeded_from = ?, generation = generation + 1, updated_at = ? WHERE name = ?",
            (tokens.access_token, tokens.refresh_token, tokens.expires_at, tokens.issued_at, tokens.scope,
             tokens.seeded_from, time.time(), self.name))
        self.current = tokens
        self.generation += 1


# --- Refreshing access tokens ----------------------------------------------------------------------------------
class TokenManager:
    """Access tokens for the client, refreshed with the refresh_token grant, single-flight."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        store: TokenStore | DatabaseTokenStore | None = None,
        *,
        access_token: str | SecretStr | None = None,
        refresh_token: str | SecretStr | None = None,
        expires_at: float | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Any = time.time,
        retry: RetryPolicy | None = None,
        user_agent: str | None = None,
    ) -> None:
        self._http = http
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = (
            client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        )
        self.shared = store if isinstance(store, DatabaseTokenStore) else None
        self.store = None if self.shared is not None else store
        self._synced = False  # shared store: the database's pair not read yet
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._retry = retry or RetryPolicy(max_attempts=3)
        self._user_agent = user_agent
        self._lock = anyio.Lock()
        self.refresh_count = 0  # refresh requests made (tests and diagnostics)
        self._tokens = self._initial_tokens(_plain(access_token), _plain(refresh_token), expires_at)

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self.client_id!r}, store={self.store!r})"

    def _initial_tokens(self, access: str | None, refresh: str | None, expires_at: float | None) -> TokenSet:
        configured = TokenSet(
            access_token=access, refresh_token=refresh, expires_at=expires_at,
            seeded_from=fingerprint(refresh) if refresh else None,
        )
        stored = self.store.load() if self.store else None
        # The file holds the rotated descendants of a configured refresh token, so it wins - unless the configured
        # token is a different one (the user logged in again and configured the new pair).
        if stored and stored.refresh_token and (refresh is None or stored.seeded_from == configured.seeded_from):
            return stored
        return configured

    @property
    def tokens(self) -> TokenSet:
        return self._tokens

    def _is_fresh(self, tokens: TokenSet) -> bool:
        if not tokens.access_token:
            return False
        if tokens.expires_at is None:
            return True
        margin = self.refresh_margin
        if tokens.issued_at is not None:  # a short-lived token must not look stale from birth
            margin = min(margin, (tokens.expires_at - tokens.issued_at) / 2)
        return tokens.expires_at - margin > self._clock()

    async def access_token(self) -> str:
        tokens = self._tokens
        if self._synced_or_local() and self._is_fresh(tokens):
            return tokens.access_token  # type: ignore[return-value]
        async with self._lock:
            if self.shared is not None and not self._synced:
                await self._adopt_shared()
            if not self._is_fresh(self._tokens):  # someone else may have refreshed while we waited
                await self._refresh()
            return self._tokens.access_token  # type: ignore[return-value]

    async def force_refresh(self, failed_token: str) -> None:
        """After a 401 with `failed_token`: refresh once, unless a concurrent caller already replaced it."""
        async with self._lock:
            if self._tokens.access_token and not hmac.compare_digest(self._tokens.access_token, failed_token):
                return
            await self._refresh(failed_token)

    def _synced_or_local(self) -> bool:
        return self.shared is None or self._synced

    def _pick(self, stored: TokenSet | None) -> TokenSet:
        """The database's pair descends from the configured one, so it wins - unless a different refresh token
        was configured since (a new login)."""
        configured = self._tokens
        if stored and stored.refresh_token and (configured.seeded_from is None
                                                 or stored.seeded_from == configured.seeded_from):
            return stored
        return configured

    async def _adopt_shared(self) -> None:
        assert self.shared is not None
        stored = await self.shared.load()
        picked = self._pick(stored)
        if picked is not stored and picked.refresh_token:
            async with self.shared.locked() as row:  # seed the database with the configured pair
                if self._pick(row.current) is not row.current:
                    await row.save(picked)
                else:
                    picked = row.current  # type: ignore[assignment]
        self._tokens = picked
        self._synced = True

    def set_tokens(self, resp: TokenResponse) -> TokenSet:
        """Adopt a token response from the code flow (persisted), e.g. after `exchange_code`."""
        tokens = TokenSet.from_response(resp, now=self._clock())
        if tokens.refresh_token:
            tokens = replace(tokens, seeded_from=fingerprint(tokens.refresh_token))
        self._adopt(tokens)
        return tokens

    def _adopt(self, tokens: TokenSet) -> None:
        self._tokens = tokens
        if self.store:
            self.store.save(tokens)

    async def _refresh(self, failed_token: str | None = None) -> None:
        if self.shared is not None:
            return await self._refresh_shared(failed_token)
        current = self._tokens
        if not current.refresh_token:
            raise CleavrAuthError(
                "No Cleavr refresh token is available, so the access token cannot be renewed. "
                "Log in with `cleavr-mcp login` (or configure CLEAVR_MCP_REFRESH_TOKEN).",
                status=None,
            )
        try:
            resp = await token_request(
                self._http, self.token_url,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": current.refresh_token,
                    "client_id": self.client_id,
                    "client_secret": self._client_secret.get_secret_value(),
                },
                retry=self._retry, user_agent=self._user_agent,
            )
        except CleavrAuthError:
            # Another process sharing the token file may have rotated the refresh token under us: adopt its pair.
            stored = self.store.load() if self.store else None
            if stored and stored.refresh_token and stored.refresh_token != current.refresh_token:
                logger.info("refresh token was rotated by another process; using the token file's newer pair")
                self._tokens = stored
                if self._is_fresh(stored):
                    return
                return await self._refresh()
            raise
        finally:
            self.refresh_count += 1
        self._adopt(TokenSet.from_response(resp, now=self._clock(), previous=current))
        logger.info("cleavr access token refreshed (expires in %s s)", resp.expires_in)

    async def _refresh_shared(self, failed_token: str | None) -> None:
        """Refresh under the database row lock: re-read the newest pair first; if another replica already replaced
        the token we hold (or found stale), use its pair; else refresh with the newest refresh token and commit
        the rotated pair before the lock is released."""
        assert self.shared is not None
        async with self.shared.locked() as row:
            newest = self._pick(row.current)
            held = self._tokens.access_token
            replaced = newest.access_token and newest.access_token != held
            if replaced and self._is_fresh(newest) and not (
                    failed_token and hmac.compare_digest(newest.access_token, failed_token)):
                self._tokens, self._synced = newest, True
                return
            if not newest.refresh_token:
                raise CleavrAuthError(
                    "No Cleavr refresh token is available, so the access token cannot be renewed. "
                    "Log in with `cleavr-mcp login` (or configure CLEAVR_MCP_REFRESH_TOKEN).", status=None)
            try:
                resp = await token_request(
                    self._http, self.token_url,
                    {"grant_type": "refresh_token", "refresh_token": newest.refresh_token,
                     "client_id": self.client_id, "client_secret": self._client_secret.get_secret_value()},
                    retry=self._retry, user_agent=self._user_agent,
                )
            finally:
                self.refresh_count += 1
            tokens = TokenSet.from_response(resp, now=self._clock(), previous=newest)
            await row.save(tokens)
        self._tokens, self._synced = tokens, True
        logger.info("cleavr access token refreshed for every replica (expires in %s s)", resp.expires_in)


def _plain(value: str | SecretStr | None) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value or None


async def token_request(
    http: httpx2.AsyncClient,
    token_url: str,
    form: dict[str, str],
    *,
    retry: RetryPolicy | None = None,
    user_agent: str | None = None,
) -> TokenResponse:
    """POST a form to the token endpoint. Retried only when the server never saw it (connect errors, 429):
    a refresh request whose answer was lost has already rotated the refresh token, so repeating it would fail."""
    retry = retry or RetryPolicy(max_attempts=3)
    headers = {"Accept": "application/json"}
    if user_agent:
        headers["User-Agent"] = user_agent
    started = retry.clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            response = await http.post(token_url, data=form, headers=headers)
        except NOT_SENT_ERRORS as exc:
            delay = retry.next_delay(attempt, started)
            if delay is None:
                raise CleavrTransportError(
                    f"Could not reach the Cleavr token endpoint ({type(exc).__name__}) after {attempt} attempt(s).",
                ) from None
            await retry.pause(delay)
            continue
        except httpx2.RequestError as exc:
            raise CleavrTransportError(
                f"The connection to the Cleavr token endpoint failed ({type(exc).__name__}); the token may or may "
                "not have been renewed. Log in again if the next call is refused.",
                outcome_unknown=True,
            ) from None
        if response.status_code == 429:
            from .errors import parse_retry_after

            delay = retry.next_delay(attempt, started, parse_retry_after(response.headers.get("retry-after")))
            if delay is not None:
                await retry.pause(delay)
                continue
        if response.status_code >= 400:
            err = error_from_response(response, what="the token request")
            if response.status_code in (400, 401, 403):
                raise CleavrAuthError(
                    f"Cleavr refused the token request ({err.code}): {err.message} Log in again with "
                    "`cleavr-mcp login`.",
                    code=err.code, status=err.status, details=err.details, request_id=err.request_id,
                ) from None
            raise err from None
        try:
            return TokenResponse.model_validate_json(response.content)
        except ValidationError:
            raise CleavrAuthError(
                "The Cleavr token endpoint answered with an unreadable token response.",
                status=response.status_code,
            ) from None


# --- Authorization code flow (CLI login) ---------------------------------------------------------------------
def new_pkce() -> tuple[str, str]:
    """(code_verifier, code_challenge) for PKCE with S256 (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)  # 86 characters, within the 43..128 allowed
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def new_state() -> str:
    return secrets.token_urlsafe(32)


def build_authorize_url(
    base_url: str,
    client_id: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    code_challenge: str,
) -> str:
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{base_url.rstrip('/')}{Paths.AUTHORIZE}?{query}"


def check_state(expected: str, received: str | None) -> None:
    """Raise unless the callback's `state` is the one we sent (CSRF protection), compared in constant time."""
    if not received or not hmac.compare_digest(expected.encode(), received.encode()):
        raise CleavrAuthError(
            "The OAuth callback's state does not match the login that was started (possible CSRF, or a stale "
            "browser tab). Start the login again.",
            code="OAUTH_STATE_MISMATCH",
        )


async def exchange_code(
    http: httpx2.AsyncClient,
    token_url: str,
    client_id: str,
    client_secret: str | SecretStr,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> TokenResponse:
    return await token_request(
        http, token_url,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_id": client_id,
            "client_secret": _plain(client_secret) or "",
        },
    )


async def authorize_with_code_flow(
    http: httpx2.AsyncClient,
    base_url: str,
    client_id: str,
    client_secret: str | SecretStr,
    scopes: Iterable[str],
    *,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
) -> TokenResponse:
    """The whole code flow without a browser, for servers that auto-approve (the embedded sandbox):
    GET /oauth/authorize (redirect not followed), read code + state from Location, check state, exchange."""
    verifier, challenge = new_pkce()
    state = new_state()
    url = build_authorize_url(base_url, client_id, redirect_uri, scopes, state, challenge)
    response = await http.get(url, follow_redirects=False, headers={"Accept": "application/json"})
    location = response.headers.get("location")
    if response.status_code not in (301, 302, 303, 307, 308) or not location:
        if response.status_code >= 400:
            raise error_from_response(response, what="the authorization request")
        raise CleavrAuthError(
            f"The authorization endpoint did not redirect (HTTP {response.status_code}); it may need a human to "
            "approve in a browser. Use `cleavr-mcp login`.",
            status=response.status_code,
        )
    params = parse_qs(urlparse(location).query)
    if "error" in params:
        raise CleavrAuthError(f"Authorization was refused: {params['error'][0]}.", code="OAUTH_ACCESS_DENIED")
    check_state(state, (params.get("state") or [None])[0])
    code = (params.get("code") or [None])[0]
    if not code:
        raise CleavrAuthError("The authorization redirect carried no code.", code="OAUTH_NO_CODE")
    token_url = f"{base_url.rstrip('/')}{Paths.TOKEN}"
    return await exchange_code(http, token_url, client_id, client_secret, code, redirect_uri, verifier)


def auth_from_settings(settings: Any, http: httpx2.AsyncClient, *, base_url: str | None = None,
                       user_agent: str | None = None, database: Any = None) -> TokenManager | StaticToken | None:
    """The auth provider a `Settings` describes: a refreshing TokenManager when client credentials are set (tokens
    from config and/or the token file), a StaticToken for a bare access token, None when nothing is configured."""
    base = (base_url or settings.base_url or "").rstrip("/")
    if settings.client_id and settings.client_secret:
        return TokenManager(
            http, f"{base}{Paths.TOKEN}", settings.client_id, settings.client_secret,
            # replicas sharing a database share the token pair there; one process keeps the 0600 file
            DatabaseTokenStore(database) if database is not None and database.shared else TokenStore(settings.token_path),
            access_token=settings.access_token, refresh_token=settings.refresh_token, user_agent=user_agent,
        )
    if settings.access_token:
        return StaticToken(settings.access_token)
    return None
