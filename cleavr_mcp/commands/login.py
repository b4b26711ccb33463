"""`cleavr-mcp auth login|status|logout|new-token`.

`login` is the OAuth authorization-code flow with PKCE and `state`: a one-shot callback server listens on
127.0.0.1 on an ephemeral port, the browser opens the authorize URL, Cleavr redirects back with `code` + `state`,
the code is exchanged and the tokens are saved (0600) in the token file the server reads.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

CALLBACK_PATH = "/oauth/callback"
_PAGE = ("<!doctype html><meta charset=utf-8><title>cleavr-mcp</title>"
         "<body style='font-family:sans-serif'><h2>{title}</h2><p>{text}</p></body>")


class LoginError(Exception):
    pass


class _CallbackServer(HTTPServer):
    """Waits for one request on CALLBACK_PATH and keeps its query parameters."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CallbackHandler)
        self.params: dict[str, str] | None = None
        self.received = threading.Event()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{CALLBACK_PATH}"


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        parsed = urlparse(self.path)
        if parsed.path != CALLBACK_PATH:
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if "error" in params:
            page = _PAGE.format(title="Login refused", text="Cleavr did not authorize cleavr-mcp. You can close this tab.")
        else:
            page = _PAGE.format(title="cleavr-mcp is logged in",
                                text="You can close this tab and go back to the terminal.")
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.params is None:
            self.server.params = params
            self.server.received.set()

    def log_message(self, format: str, *args) -> None:  # the query holds the code: never log it
        pass


@dataclass(frozen=True)
class LoginResult:
    token_path: Path
    scope: str | None
    expires_in: int | None


async def login(settings, *, open_url: Callable[[str], object], scopes: list[str] | None = None,
                timeout: float = 300.0, base_url: str | None = None) -> LoginResult:
    """Run the code flow; `open_url(url)` shows the authorize URL to the human (browser, or printed)."""
    import anyio
    import httpx2

    from ..cleavr.auth import TokenStore, build_authorize_url, check_state, exchange_code, new_pkce, new_state
    from ..cleavr.contract import ALL_SCOPES, Paths
    from ..cleavr.errors import CleavrError

    base = (base_url or settings.base_url or "").rstrip("/")
    if not base:
        raise LoginError("No Cleavr API is configured (CLEAVR_MCP_BASE_URL is unset): the embedded sandbox needs no "
                         "login. Set CLEAVR_MCP_BASE_URL=https://api-test.cleavr.fr (or pass --base-url).")
    if not (settings.client_id and settings.client_secret):
        raise LoginError("Logging in needs the platform credentials Cleavr gave you: set CLEAVR_MCP_CLIENT_ID and "
                         "CLEAVR_MCP_CLIENT_SECRET.")
    verifier, challenge = new_pkce()
    state = new_state()
    callback = _CallbackServer()
    thread = threading.Thread(target=callback.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = build_authorize_url(base, settings.client_id, callback.redirect_uri, scopes or list(ALL_SCOPES),
                                  state, challenge)
        await anyio.to_thread.run_sync(open_url, url)
        with anyio.move_on_after(timeout):
            while not callback.received.is_set():
                await anyio.sleep(0.05)
        params = callback.params
    finally:
        callback.shutdown()
        callback.server_close()
    if params is None:
        raise LoginError(f"No answer from the browser within {int(timeout)} s. Run `cleavr-mcp auth login` again.")
    if "error" in params:
        raise LoginError(f"Cleavr refused the authorization: {params['error']}"
                         + (f" ({params['error_description']})" if params.get("error_description") else ""))
    try:
        check_state(state, params.get("state"))
    except CleavrError as exc:
        raise LoginError(exc.message) from None
    code = params.get("code")
    if not code:
        raise LoginError("The callback carried no authorization code.")
    async with httpx2.AsyncClient(timeout=settings.timeout_seconds) as http:
        try:
            response = await exchange_code(http, base + Paths.TOKEN, settings.client_id, settings.client_secret,
                                           code, callback.redirect_uri, verifier)
        except CleavrError as exc:
            raise LoginError(f"The code exchange failed: {exc}") from None
    store = TokenStore(settings.token_path)
    store.save(response)
    return LoginResult(token_path=store.path, scope=response.scope, expires_in=response.expires_in)


def run_login(args) -> int:
    import webbrowser

    import anyio
    from rich.console import Console

    from ..config import Settings

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = Settings()

    def show(url: str) -> None:
        if not args.no_browser and webbrowser.open(url):
            err.print("Opened your browser to log in to Cleavr. If nothing happened, open this URL:")
        else:
            err.print("Open this URL in a browser to log in to Cleavr:")
        print(url, flush=True)

    scopes = args.scopes.replace(",", " ").split() if args.scopes else None

    async def go() -> LoginResult:
        with err.status("Waiting for the browser to come back…"):
            return await login(settings, open_url=show, scopes=scopes, timeout=args.timeout, base_url=args.base_url)

    try:
        result = anyio.run(go)
    except LoginError as exc:
        err.print(f"[red]✗[/] {exc}")
        return 1
    err.print(f"[green]✓[/] Logged in. Tokens saved to {result.token_path} (mode 0600); scopes: {result.scope or '-'}")
    return 0


def run_status(args) -> int:
    import time

    from ..cleavr.auth import TokenStore
    from ..config import Settings

    settings = Settings()
    tokens = TokenStore(settings.token_path).load()
    if settings.uses_sandbox:
        print("Environment: sandbox (embedded) — no login needed.")
    if tokens is None or not (tokens.access_token or tokens.refresh_token):
        print(f"No saved tokens at {settings.token_path}. Run `cleavr-mcp auth login`.")
        return 0 if settings.uses_sandbox or settings.access_token else 1
    left = None if tokens.expires_at is None else int(tokens.expires_at - time.time())
    expiry = "unknown expiry" if left is None else (f"access token expires in {left} s" if left > 0 else
                                                    "access token expired (it is refreshed on next use)")
    print(f"Tokens at {settings.token_path}: {expiry}; refresh token {'present' if tokens.refresh_token else 'absent'}; "
          f"scopes: {tokens.scope or '-'}")
    return 0


def run_logout(args) -> int:
    from ..cleavr.auth import TokenStore
    from ..config import Settings

    store = TokenStore(Settings().token_path)
    existed = store.exists()
    store.clear()
    print(f"Removed {store.path}." if existed else f"No token file at {store.path}.")
    return 0


def run_new_token(args) -> int:
    """A bearer token for HTTP clients of `serve --transport http`, and its hash for the server's config."""
    from ..server.auth import hash_token

    token = secrets.token_urlsafe(32)
    print(f"Token (give it to the MCP client, shown once):  {token}", flush=True)
    print(f"Server setting (keeps the raw token out of the config):\n  CLEAVR_MCP_AUTH_TOKEN_HASHES={hash_token(token)}")
    return 0
