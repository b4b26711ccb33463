"""A small, real OpenID Connect provider for tests: discovery, authorization endpoint (logs in `subject` at once),
token endpoint (client secret, single-use codes, PKCE S256), JWKS; RS256 with a key generated per run.

Served over real HTTP on 127.0.0.1 (`running_provider()`), it also mints the JWT access tokens the MCP client
presents, so the MCP server's bearer auth and the approval page's login share one identity provider — as a
deployment behind claude.ai's connector OAuth would. `tamper` makes the next id_tokens wrong in one way
(nonce, aud, iss, alg none, foreign key, expired, azp) for the attack tests.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from cleavr_mcp.testing import bound_socket, running_app


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Provider:
    issuer: str
    client_id: str = "cleavr-approvals"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    redirect_uris: list[str] = field(default_factory=list)
    subject: str = "alice"  # who "logs in" at the authorization endpoint
    tamper: str | None = None
    key: Any = field(default_factory=_new_key)
    kid: str = "test-key-1"
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = None, alg: str = "RS256") -> str:
        if alg == "none":
            return jwt.encode(claims, None, algorithm="none")
        return jwt.encode(claims, key or self.key, algorithm=alg, headers={"kid": kid or self.kid})

    def access_token(self, subject: str, *, lifetime: int = 3600) -> str:
        now = int(time.time())
        return self.sign({"iss": self.issuer, "sub": subject, "aud": "cleavr-mcp", "iat": now, "exp": now + lifetime,
                          "scope": "cleavr:read cleavr:write cleavr:money"})

    def id_token(self, subject: str, nonce: str) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": subject, "aud": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": nonce}
        tamper = self.tamper
        if tamper == "nonce":
            claims["nonce"] = secrets.token_urlsafe(32)
        elif tamper == "no_nonce":
            del claims["nonce"]
        elif tamper == "aud":
            claims["aud"] = "some-other-client"
        elif tamper == "iss":
            claims["iss"] = "https://evil.example"
        elif tamper == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif tamper == "azp":
            claims["aud"], claims["azp"] = [self.client_id, "other"], "other"
        if tamper == "alg_none":
            return self.sign(claims, alg="none")
        if tamper == "foreign_key":
            return self.sign(claims, key=_new_key())
        if tamper == "hs256":  # the public key's bytes as an HMAC secret: the classic algorithm confusion
            return jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"kid": self.kid})
        return self.sign(claims)

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    # --- the endpoints -------------------------------------------------------------------------------------
    def app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            return JSONResponse({
                "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"]})

        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != self.client_id or q.get("redirect_uri") not in self.redirect_uris:
                self.refused.append("authorize: unknown client or redirect_uri")
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or not q.get(
                    "code_challenge") or "openid" not in (q.get("scope") or "").split():
                self.refused.append("authorize: not code + PKCE S256 + openid")
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q["code_challenge"],
                                "nonce": q.get("nonce", ""), "subject": self.subject}
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}",
                                    status_code=302)

        async def token(request: Request) -> Response:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            self.token_requests.append(form)
            scheme, _, creds = request.headers.get("authorization", "").partition(" ")
            try:
                client, _, secret = base64.b64decode(creds).decode().partition(":")
            except ValueError:
                client, secret = "", ""
            if scheme.lower() != "basic" or client != self.client_id or secret != self.client_secret:
                self.refused.append("token: client authentication failed")
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.codes.pop(form.get("code", ""), None)  # single use
            if grant is None or form.get("grant_type") != "authorization_code" or \
                    form.get("redirect_uri") != grant["redirect_uri"]:
                self.refused.append("token: unknown, used or mismatched code")
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["challenge"]:
                self.refused.append("token: PKCE verifier does not match")
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                 "expires_in": 300, "id_token": self.id_token(grant["subject"], grant["nonce"])})

        async def jwks(request: Request) -> Response:
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/.well-known/openid-configuration", discovery), Route("/authorize", authorize),
                                 Route("/token", token, methods=["POST"]), Route("/jwks", jwks)])


@contextmanager
def running_provider(host: str = "127.0.0.1") -> Iterator[Provider]:
    """`host` is the name in the issuer URL (the socket is on 127.0.0.1): `localhost` makes the provider another
    site than a server on 127.0.0.1, as a real provider is."""
    sock, port = bound_socket()
    provider = Provider(issuer=f"http://{host}:{port}")
    with running_app(provider.app(), sock):
        yield provider


def signing_in_with(provider: Provider, sandbox: Any, folder: Any, port: int) -> Any:
    """Settings of a server on 127.0.0.1:`port` whose MCP bearer JWTs and approval-page login both come from
    `provider` (its callback registered there)."""
    base = f"http://127.0.0.1:{port}"
    provider.redirect_uris.append(f"{base}/approvals/oidc/callback")
    return sandbox.api_settings(
        folder, http_port=port, approval_wait_seconds=0,
        jwks_url=f"{provider.issuer}/jwks", jwt_issuer=provider.issuer, jwt_audience="cleavr-mcp",
        approval_oidc_issuer=provider.issuer, approval_oidc_client_id=provider.client_id,
        approval_oidc_client_secret=provider.client_secret)
