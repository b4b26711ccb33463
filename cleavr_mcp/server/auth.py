"""Who may call the HTTP server, and the keys that let several replicas agree.

- Bearer tokens from config are kept only as SHA-256 digests (`auth_tokens` are hashed at start-up, or
  `auth_token_hashes` are given directly) and a presented token is hashed and compared in constant time.
- JWTs are verified against a JWKS URL (keys cached, re-fetched on an unknown `kid` at most every few seconds);
  `exp` is required, `iss`/`aud`/scopes are checked when configured.
- The SDK's `AuthSettings` makes the server answer 401 with `WWW-Authenticate: Bearer … resource_metadata=…` and
  serve the protected-resource metadata document.
- DNS-rebinding protection is on for every bind: loopback hosts/origins, the public URL's, and the configured ones.
- `request_state` (elicitation round trips) is sealed with configured keys — or keys derived from the configured
  confirmation key — so a round trip may land on another replica.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.request_state import RequestStateSecurity

from ..config import Settings
from ..net import origin_of
from .principals import (
    DEFAULT_USER_IDS_CLAIM,
    JWT_MARK,
    JWT_USER_IDS_CLAIM,
    PrincipalDirectory,
    PrincipalsFileError,
    PrincipalsFileVerifier,
)

if TYPE_CHECKING:  # PyJWT (and cryptography under it) is imported only when a JWKS URL is configured
    import jwt

logger = logging.getLogger("cleavr_mcp.server.auth")

MIN_REQUEST_STATE_KEY_BYTES = 32  # the SDK's AES-GCM codec refuses shorter secrets
JWKS_MIN_REFETCH_SECONDS = 10.0  # unknown kid: refetch, but never hammer the JWKS endpoint


class AuthConfigError(ValueError):
    """The HTTP auth / key configuration cannot work; the message says which setting to fix."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _fingerprint(digest: str) -> str:
    return digest[:12]


class StaticTokenVerifier:
    """Accepts the configured bearer tokens; only their SHA-256 digests are held."""

    def __init__(self, digests: Iterable[str]) -> None:
        try:
            self._digests = tuple(bytes.fromhex(d.strip().lower()) for d in digests)
        except ValueError:
            self._digests = ()
        if not self._digests or any(len(d) != 32 for d in self._digests):
            raise AuthConfigError("CLEAVR_MCP_AUTH_TOKEN_HASHES must be SHA-256 hex digests (64 hex characters; "
                                  "`cleavr-mcp auth new-token` prints one).")

    @classmethod
    def from_settings(cls, settings: Settings) -> StaticTokenVerifier | None:
        tokens = [t.get_secret_value() for t in settings.auth_tokens]
        if any(not t.strip() for t in tokens):  # Settings refuses these; never silently drop one here
            raise AuthConfigError("CLEAVR_MCP_AUTH_TOKENS holds an empty or whitespace-only token: remove it.")
        digests = [hash_token(t) for t in tokens] + list(settings.auth_token_hashes)
        return cls(digests) if digests else None

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = hashlib.sha256(token.encode()).digest()
        match = False
        for digest in self._digests:  # every digest compared, whatever matches: no timing hint about which
            match |= hmac.compare_digest(presented, digest)
        if not match:
            return None
        fingerprint = _fingerprint(presented.hex())
        # The raw token is not kept in the request context: the fingerprint identifies the caller.
        return AccessToken(token=fingerprint, client_id=f"token:{fingerprint}", scopes=[])


class JWKSCache:
    """Public keys from a JWKS URL, by `kid`, refreshed after `ttl` or when an unknown `kid` shows up."""

    def __init__(self, url: str, *, ttl: float = 300.0, http: httpx2.AsyncClient | None = None,
                 clock=time.monotonic) -> None:
        self.url = url
        self.ttl = ttl
        self._http = http
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()
        self.fetch_count = 0

    async def _fetch(self) -> None:
        import jwt

        self.fetch_count += 1
        self._fetched_at = self._clock()
        try:
            if self._http is not None:
                response = await self._http.get(self.url)
            else:
                async with httpx2.AsyncClient(timeout=10.0) as http:
                    response = await http.get(self.url)
            response.raise_for_status()
            jwk_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx2.HTTPError, ValueError, jwt.PyJWTError) as exc:
            logger.warning("could not load the JWKS from %s (%s)", self.url, type(exc).__name__)
            return  # keep the keys we had
        self._keys = {key.key_id: key for key in jwk_set.keys}

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self.ttl

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        async with self._lock:
            if self._stale():
                await self._fetch()
            found = self._lookup(kid)
            if found is None and self._fetched_at is not None and (
                self._clock() - self._fetched_at >= JWKS_MIN_REFETCH_SECONDS
            ):
                await self._fetch()  # key rotation at the issuer
                found = self._lookup(kid)
            return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)


class JWTVerifier:
    """Verifies signed JWT access tokens: signature (JWKS), `exp` (required), `nbf`, `iss`, `aud`, scopes."""

    def __init__(self, jwks: JWKSCache, *, issuer: str | None = None, audience: str | None = None,
                 algorithms: Sequence[str] = ("RS256", "ES256"), required_scopes: Sequence[str] = (),
                 leeway: float = 30.0, user_ids_claim: str = "cleavr_user_ids") -> None:
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.required_scopes = set(required_scopes)
        self.leeway = leeway
        self.user_ids_claim = user_ids_claim

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx2.AsyncClient | None = None) -> JWTVerifier | None:
        if not settings.jwks_url:
            return None
        return cls(JWKSCache(settings.jwks_url, ttl=settings.jwks_cache_seconds, http=http),
                   issuer=settings.jwt_issuer, audience=settings.jwt_audience, algorithms=settings.jwt_algorithms,
                   required_scopes=settings.jwt_required_scopes,
                   user_ids_claim=settings.jwt_user_ids_claim or DEFAULT_USER_IDS_CLAIM)

    async def verify_token(self, token: str) -> AccessToken | None:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        if header.get("alg") not in self.algorithms:
            return None  # never let the token pick its own algorithm (no "none", no HS256 with a public key)
        key = await self.jwks.key(header.get("kid"))
        if key is None:
            return None
        try:
            claims = jwt.decode(
                token, key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            logger.info("JWT refused: %s", type(exc).__name__)
            return None
        scopes = _scopes(claims)
        if not self.required_scopes <= set(scopes):
            logger.info("JWT refused: missing scopes %s", sorted(self.required_scopes - set(scopes)))
            return None
        subject = claims.get("sub")
        client_id = str(claims.get("client_id") or claims.get("azp") or subject or "jwt")
        kept: dict[str, Any] = {k: claims[k] for k in ("iss", "aud") if k in claims}
        kept[JWT_MARK] = True  # server.principals maps it (subject → file principal, or the user-ids claim)
        if self.user_ids_claim in claims:
            kept[JWT_USER_IDS_CLAIM] = claims[self.user_ids_claim]
        return AccessToken(
            token=_fingerprint(hash_token(token)), client_id=client_id, scopes=scopes,
            expires_at=int(claims["exp"]), subject=str(subject) if subject is not None else None,
            claims=kept,
        )


def _scopes(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("scope", claims.get("scp", []))
    if isinstance(raw, str):
        return raw.split()
    return [str(s) for s in raw] if isinstance(raw, list) else []


class AnyOfVerifier:
    """The first verifier that accepts the token wins (static tokens first: cheap and local)."""

    def __init__(self, verifiers: Sequence[TokenVerifier]) -> None:
        self.verifiers = list(verifiers)

    async def verify_token(self, token: str) -> AccessToken | None:
        for verifier in self.verifiers:
            if isinstance(verifier, JWTVerifier) and token.count(".") != 2:
                continue
            if (found := await verifier.verify_token(token)) is not None:
                return found
        return None


def token_verifier(settings: Settings, principals: PrincipalDirectory | None = None) -> AnyOfVerifier | None:
    """The principals file's tokens first (scoped), then the legacy all-creditor tokens, then JWTs."""
    if principals is None and settings.principals_file is not None:
        principals = principal_directory(settings)
    file_verifier = PrincipalsFileVerifier(principals) if principals is not None and principals.path else None
    verifiers: list[TokenVerifier] = [v for v in (file_verifier, StaticTokenVerifier.from_settings(settings),
                                                  JWTVerifier.from_settings(settings)) if v is not None]
    return AnyOfVerifier(verifiers) if verifiers else None


def principal_directory(settings: Settings) -> PrincipalDirectory:
    """The principals file read now; a broken one is an AuthConfigError naming the principal and the field."""
    try:
        return PrincipalDirectory(settings)
    except PrincipalsFileError as exc:
        raise AuthConfigError(f"{exc}.") from None


def auth_installed(settings: Settings) -> bool:
    """Whether a verifier is actually built from these settings (what "auth is on" means; not the raw setting)."""
    return token_verifier(settings) is not None


def auth_settings(settings: Settings) -> AuthSettings:
    issuer = settings.auth_issuer_url or settings.jwt_issuer or origin_of(settings.mcp_url)
    return AuthSettings(
        issuer_url=issuer,
        resource_server_url=settings.mcp_url,
        # The verifiers check `aud` themselves (jwt_audience); static tokens carry no resource indicator.
        validate_token_resource=False,
    )


def request_state_keys(settings: Settings) -> list[bytes]:
    """Configured request_state keys; else derived from the configured confirmation key; else none (ephemeral)."""
    keys = [k.get_secret_value().encode() for k in settings.request_state_keys if k.get_secret_value()]
    for key in keys:
        if len(key) < MIN_REQUEST_STATE_KEY_BYTES:
            raise AuthConfigError(
                f"Each CLEAVR_MCP_REQUEST_STATE_KEYS entry must be at least {MIN_REQUEST_STATE_KEY_BYTES} bytes "
                "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')."
            )
    if keys:
        return keys
    if settings.confirmation_key is not None:
        # One shared secret is enough for a replica set: a separate key for request_state, derived one-way.
        secret = settings.confirmation_key.get_secret_value().encode()
        return [hmac.new(secret, b"cleavr-mcp/request-state/v1", hashlib.sha256).digest()]
    return []


def request_state_security(settings: Settings) -> RequestStateSecurity | None:
    keys = request_state_keys(settings)
    if not keys:
        return None  # the SDK's per-process key: fine for stdio and a single HTTP process
    return RequestStateSecurity(keys=keys, audience=settings.request_state_audience)


def server_security(settings: Settings, principals: PrincipalDirectory | None = None) -> dict[str, Any]:
    """Keyword arguments for the MCPServer constructor: token verifier + auth settings, request_state keys."""
    kwargs: dict[str, Any] = {}
    verifier = token_verifier(settings, principals)
    if verifier is not None:
        kwargs["token_verifier"] = verifier
        kwargs["auth"] = auth_settings(settings)
    security = request_state_security(settings)
    if security is not None:
        kwargs["request_state_security"] = security
    return kwargs
