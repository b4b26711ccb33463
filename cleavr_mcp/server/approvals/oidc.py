"""Signing in on the approval page with OpenID Connect (authorization code + PKCE + state + nonce).

Configured by CLEAVR_MCP_APPROVAL_OIDC_ISSUER / _CLIENT_ID / _CLIENT_SECRET (and _SCOPES). The provider's
endpoints come from its discovery document, whose `issuer` must be the configured one; endpoints must be https
unless the issuer itself is on loopback (a provider on this machine).

The round trip keeps nothing on the server: the state, the nonce, the PKCE verifier and the approval id travel in
a short-lived HMAC-signed cookie (SameSite=Lax, since the provider's redirect back is a cross-site navigation;
HttpOnly; Path limited to the callback), so any replica finishes what another started. The callback:
- needs that cookie, unaltered and unexpired, and a `state` equal to the one in it (compared in constant time);
- exchanges the code (with the verifier and the client secret) at the token endpoint;
- verifies the id_token against the provider's JWKS: an asymmetric algorithm the provider lists (never `none`
  nor HS*), `iss`, `aud` = our client id (and `azp` when present), `exp`/`iat`, and the `nonce` of this round trip;
- maps the subject to a principal name (`subject_principal`), and returns there only: the approval page of the id
  in the signed cookie — no return URL is ever taken from the request (no open redirect).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2

from .signin import Sealer

logger = logging.getLogger("cleavr_mcp.server.approvals")

COOKIE = "cleavr-approval-oidc"
CALLBACK_PATH = "/approvals/oidc/callback"
ROUND_TRIP_SECONDS = 600
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_TTL_SECONDS = 3600.0
APPROVAL_ID = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class OIDCError(Exception):
    """The login did not prove who the person is; `reason` is for the log (never secrets), the page says less."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Finished:
    approval_id: str
    subject: str
    claims: dict[str, Any]


def _pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OIDCLogin:
    """`jwks_cache` is `server.auth.JWKSCache` (passed in by the HTTP app: this module stays below `server.auth`)."""

    def __init__(self, settings: Any, key: bytes, *, jwks_cache: Any, clock=time.time) -> None:
        self.issuer = str(settings.approval_oidc_issuer).rstrip("/")
        self.client_id = str(settings.approval_oidc_client_id or "")
        secret = settings.approval_oidc_client_secret
        self.client_secret = secret.get_secret_value() if secret is not None else None
        self.scopes = " ".join(dict.fromkeys(["openid", *settings.approval_oidc_scopes.split()]))
        self.clock = clock
        self._sealer = Sealer(key, "oidc/v1")
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0
        self._jwks_cache = jwks_cache
        self._jwks: Any = None
        if not self.client_id:
            raise ValueError("CLEAVR_MCP_APPROVAL_OIDC_CLIENT_ID is required with CLEAVR_MCP_APPROVAL_OIDC_ISSUER")

    @property
    def provider_name(self) -> str:
        return urlsplit(self.issuer).hostname or self.issuer

    def _loopback_issuer(self) -> bool:
        return (urlsplit(self.issuer).hostname or "") in _LOOPBACK

    def _endpoint(self, document: dict[str, Any], name: str) -> str:
        url = document.get(name)
        if not isinstance(url, str):
            raise OIDCError(f"discovery document has no {name}")
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and self._loopback_issuer()):
            raise OIDCError(f"{name} is not https")
        return url

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is not None and time.monotonic() - self._discovered_at < DISCOVERY_TTL_SECONDS:
            return self._discovery
        try:
            async with httpx2.AsyncClient(timeout=10.0) as http:
                response = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                document = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise OIDCError(f"discovery failed ({type(exc).__name__})") from None
        if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise OIDCError("discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            self._endpoint(document, name)
        self._discovery, self._discovered_at = document, time.monotonic()
        self._jwks = self._jwks_cache(document["jwks_uri"])
        return document

    async def start(self, approval_id: str, redirect_uri: str) -> tuple[str, str]:
        """The provider's authorization URL and the signed round-trip cookie for it."""
        if not APPROVAL_ID.match(approval_id):
            raise OIDCError("not an approval id")
        document = await self.discovery()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        cookie = self._sealer.seal({"s": state, "n": nonce, "v": verifier, "a": approval_id},
                                   expires_at=self.clock() + ROUND_TRIP_SECONDS)
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                           "scope": self.scopes, "state": state, "nonce": nonce,
                           "code_challenge": _pkce_challenge(verifier), "code_challenge_method": "S256"})
        endpoint = self._endpoint(document, "authorization_endpoint")
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", cookie

    async def finish(self, params: dict[str, str], cookie: str | None, redirect_uri: str) -> Finished:
        trip = self._sealer.open(cookie, self.clock())
        if trip is None:
            raise OIDCError("no valid round-trip cookie (expired, altered, or another browser)")
        if not hmac.compare_digest(str(trip.get("s", "")).encode(), (params.get("state") or "").encode()):
            raise OIDCError("state mismatch")
        if params.get("error"):
            raise OIDCError("the provider refused the login")
        code = params.get("code")
        if not code:
            raise OIDCError("no authorization code")
        approval_id = str(trip.get("a", ""))
        if not APPROVAL_ID.match(approval_id):
            raise OIDCError("not an approval id")
        document = await self.discovery()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": str(trip.get("v", "")), "client_id": self.client_id}
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        try:
            async with httpx2.AsyncClient(timeout=10.0) as http:
                response = await http.post(self._endpoint(document, "token_endpoint"), data=form, auth=auth,
                                           headers={"Accept": "application/json"})
            tokens = response.json() if response.status_code == 200 else None
        except (httpx2.HTTPError, ValueError) as exc:
            raise OIDCError(f"token request failed ({type(exc).__name__})") from None
        if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
            raise OIDCError(f"token endpoint gave no id_token (HTTP {response.status_code})")
        claims = await self._verify(tokens["id_token"], str(trip.get("n", "")), document)
        return Finished(approval_id, str(claims["sub"]), claims)

    async def _verify(self, id_token: str, nonce: str, document: dict[str, Any]) -> dict[str, Any]:
        import jwt

        offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        allowed = [a for a in ALGORITHMS if a in offered]
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise OIDCError("id_token is not a JWT") from None
        if header.get("alg") not in allowed:
            raise OIDCError("id_token algorithm not allowed")
        assert self._jwks is not None
        key = await self._jwks.key(header.get("kid"))
        if key is None:
            raise OIDCError("id_token signed with an unknown key")
        try:
            claims = jwt.decode(id_token, key, algorithms=[header["alg"]], audience=self.client_id,
                                issuer=document["issuer"], leeway=30,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise OIDCError(f"id_token refused ({type(exc).__name__})") from None
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()) or not nonce:
            raise OIDCError("nonce mismatch")
        if "azp" in claims and claims["azp"] != self.client_id:
            raise OIDCError("id_token was issued to another client (azp)")
        if not str(claims["sub"]).strip():
            raise OIDCError("id_token has an empty subject")
        return claims


def subject_principal(settings: Any, subject: str, directory: Any = None) -> str | None:
    """The principal name an OIDC subject signs in as, or None (that account approves nothing here).

    - With a principals file: the principal whose `jwt_subject` is this subject (`directory`, the server's
      `PrincipalDirectory`), and nobody else.
    - Without one, when the login's issuer is also the issuer of the MCP bearer JWTs: the name those JWTs get for
      this subject (`server.principals`: the subject itself in legacy mode, `jwt:<subject>` with a user-ids
      claim), so the person who signs in is the one the model's token speaks for.
    - Otherwise nobody: a subject from an unrelated issuer must not collide with a principal name.
    """
    if getattr(settings, "principals_file", None):
        if directory is None:
            return None  # the server always passes its directory; without it, nobody
        entry = directory.entry_for_subject(subject)
        return entry.principal.name if entry is not None else None
    issuer = (getattr(settings, "approval_oidc_issuer", None) or "").rstrip("/")
    if not issuer or issuer != (getattr(settings, "jwt_issuer", None) or "").rstrip("/"):
        return None
    if getattr(settings, "jwt_user_ids_claim", None) is None:
        return subject  # legacy: server.approvals.service.principal_of_token names a JWT by its subject
    return f"jwt:{subject}"
