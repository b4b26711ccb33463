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
    """A bearer token for HTTP clients of `serve --transport http`, and its hash for the server's config; with
    `--principal`, the hash goes into the principals file instead (that principal created or updated)."""
    from ..server.auth import hash_token

    if getattr(args, "principal", None) is not None:
        return _new_principal_token(args)
    if getattr(args, "user_ids", None) or getattr(args, "read_only", False) or getattr(args, "no_money", False) \
            or getattr(args, "create_users", False):
        import sys

        print("error: --user-id, --read-only, --no-money and --create-users describe a principal: add "
              "--principal NAME", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(32)
    print(f"Token (give it to the MCP client, shown once):  {token}", flush=True)
    print(f"Server setting (keeps the raw token out of the config):\n  CLEAVR_MCP_AUTH_TOKEN_HASHES={hash_token(token)}")
    return 0


def _new_principal_token(args) -> int:
    """Write the new token's SHA-256 into the principals file (keeping the other entries and the comments), after
    checking that the whole file is still valid; print the token once."""
    import sys

    from ..config import Settings
    from ..server.auth import hash_token
    from ..server.principals import PrincipalsFileError, parse_principals, read_principals_file

    def fail(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    path = args.file or Settings().principals_file
    if path is None:
        return fail("no principals file: set CLEAVR_MCP_PRINCIPALS_FILE (the server reads the same one) or pass "
                    "--file PATH")
    path = Path(path)
    import tomlkit

    if path.exists() or path.is_symlink():
        try:
            read_principals_file(path)  # valid now (and a regular file, not a link): else it is not edited
        except PrincipalsFileError as exc:
            return fail(f"{exc}; fix it first, nothing was changed")
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    else:
        document = tomlkit.document()
        document.add(tomlkit.comment("cleavr-mcp principals: who may call the HTTP server, for which creditors "
                                     "(README, Principals)"))
    tables = document.get("principals")
    if tables is None:
        tables = tomlkit.aot()
        document.append("principals", tables)
    entry = next((t for t in tables if t.get("name") == args.principal), None)
    token = secrets.token_urlsafe(32)
    if entry is None:
        if args.user_ids is None and not args.create_users:
            return fail(f"principal '{args.principal}' is new: give the creditors it acts for with --user-id ID "
                        "(repeatable, or '*' for every creditor), or --create-users for one that creates its own")
        entry = tomlkit.table()
        entry["name"] = args.principal
        tables.append(entry)
        action = "added"
    else:
        action = "updated (new token; the old one stops working)"
    entry["token_sha256"] = hash_token(token)
    if args.user_ids is not None:
        entry["user_ids"] = [u.strip() for u in args.user_ids]
    elif "user_ids" not in entry:
        entry["user_ids"] = []
    for flag in ("read_only", "no_money", "create_users"):
        if getattr(args, flag):
            entry[flag] = True
    text = tomlkit.dumps(document)
    try:
        parse_principals(text, source=f"principals file {path}")  # the server must accept what is written
    except PrincipalsFileError as exc:
        return fail(f"{exc}; nothing was changed")
    _replace_file(path, text)
    print(f"Token for principal '{args.principal}' (give it to that client, shown once):  {token}", flush=True)
    print(f"Principal {action} in {path}: only the token's SHA-256 is written. A running server reads the change "
          "within a second (or at once on SIGHUP).")
    return 0


def _replace_file(path: Path, text: str) -> None:
    """Write a whole new file beside the old one and rename it over: a reader sees the old or the new file."""
    import os
    import tempfile

    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
