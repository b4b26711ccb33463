"""`cleavr-mcp doctor`: is this installation usable? One line per check, ✓ / ✗ (with the fix) / ! (worth knowing).

Exit code 1 when any check failed, 0 otherwise. The API checks use the same code path as the server (the
lifespan's state: client, auth, embedded sandbox), so "doctor is green" means "serve will work".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

OK, FAIL, WARN = "ok", "fail", "warn"
_MARK = {OK: "[green]✓[/]", FAIL: "[red]✗[/]", WARN: "[yellow]![/]"}


@dataclass(frozen=True)
class Check:
    status: str
    label: str
    detail: str
    fix: str | None = None

    def render(self) -> str:
        text = f"{_MARK[self.status]} {self.label}: {self.detail}"
        if self.fix and self.status != OK:
            text += f"\n    → {self.fix}"
        return text


def _config_sources(settings) -> Check:
    names = sorted(k for k in os.environ if k.startswith("CLEAVR_MCP_"))
    env_file = Path(".env").resolve()
    parts = [f"environment ({', '.join(names)})" if names else "no CLEAVR_MCP_* environment variables"]
    parts.append(f".env at {env_file}" if env_file.is_file() else "no .env in the current folder")
    return Check(OK, "Configuration", "; ".join(parts) + "; the rest are defaults")


def _data_dir(settings) -> Check:
    try:
        path = settings.ensure_data_dir()
        probe = path / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check(FAIL, "Data folder", f"{settings.data_dir} is not writable ({exc.strerror})",
                     "Set CLEAVR_MCP_DATA_DIR to a folder you can write.")
    return Check(OK, "Data folder", str(path))


def _environment(settings) -> Check:
    from ..config import Environment, redacted_url

    env = settings.environment
    shown = redacted_url(settings.base_url)
    if settings.uses_sandbox:
        return Check(OK, "Environment", "sandbox (embedded; nothing real happens; no credentials needed)")
    parsed = urlparse(settings.base_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return Check(FAIL, "Environment", f"CLEAVR_MCP_BASE_URL={shown!r} is not an http(s) URL",
                     "Use https://api-test.cleavr.fr (test), https://api.cleavr.fr (live), or unset it for the sandbox.")
    if env is Environment.SANDBOX:
        return Check(OK, "Environment", f"sandbox on this machine ({shown}): nothing real happens")
    if env is Environment.LIVE:
        return Check(OK, "Environment", f"LIVE ({shown}): real debtors, real fees (any host other than "
                     "api-test.cleavr.fr or this machine counts as live)")
    return Check(OK, "Environment", f"test ({shown})")


def _credentials(settings) -> Check:
    from ..cleavr.auth import TokenStore

    if settings.uses_sandbox:
        return Check(OK, "Credentials", "embedded sandbox credentials")
    stored = TokenStore(settings.token_path).load()
    has_tokens = bool(stored and (stored.refresh_token or stored.access_token)) or bool(
        settings.refresh_token or settings.access_token)
    if settings.client_id and settings.client_secret:
        if has_tokens:
            source = f"token file {settings.token_path}" if stored else "tokens from the configuration"
            return Check(OK, "Credentials", f"client {settings.client_id}; {source}")
        return Check(FAIL, "Credentials", f"client {settings.client_id} is configured but not logged in",
                     "Run `cleavr-mcp auth login` (or set CLEAVR_MCP_REFRESH_TOKEN).")
    if settings.access_token:
        return Check(WARN, "Credentials", "a bare access token (cannot be refreshed when it expires)",
                     "Set CLEAVR_MCP_CLIENT_ID / CLEAVR_MCP_CLIENT_SECRET and run `cleavr-mcp auth login`.")
    return Check(FAIL, "Credentials", "no Cleavr credentials configured",
                 "Set CLEAVR_MCP_CLIENT_ID and CLEAVR_MCP_CLIENT_SECRET, then run `cleavr-mcp auth login` "
                 "(or unset CLEAVR_MCP_BASE_URL to use the sandbox).")


async def _reachable(settings) -> Check:
    if settings.uses_sandbox:
        return Check(OK, "API reachable", "in-process sandbox")
    import httpx2

    try:
        async with httpx2.AsyncClient(timeout=5.0) as http:
            response = await http.get(settings.base_url)
    except httpx2.HTTPError as exc:
        return Check(FAIL, "API reachable", f"cannot reach {settings.base_url} ({type(exc).__name__})",
                     "Check CLEAVR_MCP_BASE_URL, the network, and any proxy (HTTPS_PROXY).")
    return Check(OK, "API reachable", f"{settings.base_url} answered (HTTP {response.status_code})")


# The CLI command that registers an endpoint (a test parses it with the real CLI parser, so it cannot drift).
WEBHOOK_REGISTER_HINT = "cleavr-mcp webhooks register --url https://your-host/webhooks/cleavr"


async def _api_checks(settings) -> list[Check]:
    """Token validity and webhooks, through the server's own state (client + auth + sandbox)."""
    from ..cleavr.errors import CleavrAuthError, CleavrError
    from ..toolkit.state import open_state

    checks: list[Check] = []
    try:
        async with open_state(settings) as state:
            try:
                hooks = await state.client.list_webhooks()
            except CleavrAuthError as exc:
                return [Check(FAIL, "Token", f"refused by Cleavr ({exc.code})",
                              "Run `cleavr-mcp auth login` again (the refresh token may have expired or been revoked).")]
            checks.append(Check(OK, "Token", "accepted by the API"))
            if hooks:
                listed = ", ".join(f"{h.url} ({len(h.events)} events)" for h in hooks[:3])
                checks.append(Check(OK, "Webhooks", f"{len(hooks)} endpoint(s): {listed}"))
            else:
                checks.append(Check(WARN, "Webhooks", "no endpoint registered: status changes are seen by polling only",
                                    f"If this host can receive HTTPS callbacks: `{WEBHOOK_REGISTER_HINT}` (then serve "
                                    "over HTTP, or add `serve --webhook-port N` to the stdio command)."))
            if state.demo_user_id:
                checks.append(Check(OK, "Sandbox", f"demo creditor {state.demo_user_id} ready"))
    except CleavrError as exc:
        return [Check(FAIL, "Token", f"{exc.code}: {exc.message}", "Run `cleavr-mcp auth login`.")]
    except Exception as exc:  # noqa: BLE001 - doctor reports, it does not crash
        return [Check(FAIL, "API", f"could not open the API client ({type(exc).__name__}: {exc})",
                      "Run with the same environment as the server and read the error above.")]
    return checks


def _live_writes(settings) -> Check:
    from ..config import Environment

    if settings.environment is not Environment.LIVE:
        return Check(OK, "Live writes", "not live: write tools work (after the user confirms)")
    if settings.allow_live_writes:
        return Check(WARN, "Live writes", "ENABLED: confirmed write tools act on real debtors and money",
                     "Unset CLEAVR_MCP_ALLOW_LIVE_WRITES to make the server read-only against live.")
    return Check(OK, "Live writes", "off: write tools refuse against the live API",
                 "Set CLEAVR_MCP_ALLOW_LIVE_WRITES=true when you mean to write for real.")


def _allowed_roots(settings) -> list[Check]:
    if not settings.allowed_roots:
        return [Check(WARN, "Allowed folders", "none: tools read files only from the client's roots or inline content",
                      "Set CLEAVR_MCP_ALLOWED_ROOTS=~/Invoices (comma-separated) so PDFs can be read by path.")]
    checks = []
    for root in settings.allowed_roots:
        path = Path(root).expanduser()
        if path.is_dir():
            checks.append(Check(OK, "Allowed folder", str(path)))
        else:
            checks.append(Check(FAIL, "Allowed folder", f"{path} does not exist or is not a folder",
                                "Create it or remove it from CLEAVR_MCP_ALLOWED_ROOTS."))
    return checks


def _policy(settings) -> Check:
    from ..server.policy import ToolPolicy
    from ..toolkit.registry import Toolset
    from ..tools import all_tools

    specs = all_tools()
    unknown = []
    for label, values, known in (("toolsets", settings.toolsets, {t.value for t in Toolset}),
                                 ("tools", settings.tools, set(specs)),
                                 ("exclude-tools", settings.exclude_tools, set(specs))):
        unknown += [f"{label} '{v}'" for v in values or [] if v not in known]
    policy = ToolPolicy.from_settings(settings)
    visible = sorted(name for name, spec in specs.items() if policy.allows(spec))
    if unknown:
        return Check(FAIL, "Tool policy", f"unknown {', '.join(unknown)}",
                     f"Toolsets: {', '.join(t.value for t in Toolset)}; tools: {', '.join(sorted(specs))}.")
    flags = [f for f, on in (("read-only", policy.read_only), ("no-money", policy.no_money)) if on]
    detail = f"{len(visible)} of {len(specs)} tools" + (f" ({', '.join(flags)})" if flags else "")
    if not visible:
        return Check(FAIL, "Tool policy", detail + ": no tool is left", "Loosen --toolsets/--tools/--exclude-tools.")
    return Check(OK, "Tool policy", detail)


def _http(settings) -> list[Check]:
    from ..net import is_loopback
    from ..server.auth import AuthConfigError, auth_installed, request_state_keys

    checks = []
    try:
        auth_on = auth_installed(settings)  # what the server would really enforce, not what the settings claim
    except AuthConfigError as exc:
        return [Check(FAIL, "HTTP auth", str(exc), "Fix the setting named above.")]
    if not is_loopback(settings.http_host) and not auth_on:
        checks.append(Check(FAIL, "HTTP", f"host {settings.http_host} without authentication: `serve --transport http` "
                            "will refuse to start", "Set CLEAVR_MCP_AUTH_TOKEN_HASHES (see `cleavr-mcp auth new-token`) "
                            "or CLEAVR_MCP_JWKS_URL, or bind 127.0.0.1."))
    elif auth_on:
        kinds = [k for k, on in (("principals file", settings.principals_file),
                                 ("bearer tokens", settings.auth_tokens or settings.auth_token_hashes),
                                 ("JWT via JWKS", settings.jwks_url)) if on]
        checks.append(Check(OK, "HTTP auth", f"{' + '.join(kinds)}; endpoint {settings.mcp_url}"))
        if not is_loopback(settings.http_host):
            checks += _all_creditor_callers(settings)
        if settings.jwks_url and not (settings.jwt_audience and settings.jwt_issuer):
            missing = [n for n, v in (("CLEAVR_MCP_JWT_AUDIENCE", settings.jwt_audience),
                                      ("CLEAVR_MCP_JWT_ISSUER", settings.jwt_issuer)) if not v]
            checks.append(Check(WARN, "JWT checks", f"{' and '.join(missing)} unset: any token signed by the JWKS "
                                "keys is accepted, whoever it was issued for", f"Set {', '.join(missing)}."))
        checks.append(_approval_sign_in(settings))
    else:
        checks.append(Check(OK, "HTTP", f"loopback only ({settings.mcp_url}), no auth needed"))
    try:
        keys = request_state_keys(settings)
    except AuthConfigError as exc:
        checks.append(Check(FAIL, "Shared keys", str(exc)))
        return checks
    if settings.confirmation_key is not None and len(settings.confirmation_key.get_secret_value()) < 16:
        checks.append(Check(FAIL, "Shared keys", "CLEAVR_MCP_CONFIRMATION_KEY is shorter than 16 bytes",
                            "Use a random 32-byte hex string."))
    elif settings.confirmation_key is None:
        checks.append(Check(OK, "Shared keys", "confirmation key generated in the data folder (one server)",
                            None))
    else:
        checks.append(Check(OK, "Shared keys", "confirmation key" + (" and request_state keys" if keys else "")
                            + " from the configuration (replicas agree)"))
    return checks


def _all_creditor_callers(settings) -> list[Check]:
    """On a public bind, callers that act for every creditor without being listed as such (#15): legacy tokens,
    and JWTs when neither a principals file nor a user-ids claim is configured."""
    checks = []
    legacy = len(settings.auth_tokens) + len(settings.auth_token_hashes)
    if legacy:
        checks.append(Check(WARN, "Tenancy", f"{legacy} legacy bearer token(s) (CLEAVR_MCP_AUTH_TOKENS / "
                            "AUTH_TOKEN_HASHES) act for every creditor of the platform",
                            "Give each client its own principal: `cleavr-mcp auth new-token --principal NAME "
                            "--user-id …` (CLEAVR_MCP_PRINCIPALS_FILE), then remove the legacy tokens."))
    if settings.jwks_url and settings.principals_file is None and settings.jwt_user_ids_claim is None:
        checks.append(Check(WARN, "Tenancy", "every valid JWT acts for every creditor (no principals file and no "
                            "CLEAVR_MCP_JWT_USER_IDS_CLAIM)",
                            "Set CLEAVR_MCP_JWT_USER_IDS_CLAIM (default claim cleavr_user_ids) or map subjects "
                            "in a principals file (jwt_subject)."))
    return checks


async def _audit(settings) -> Check:
    from ..storage import SQLITE_FILENAME, database_for
    from ..toolkit.store import ServerStore

    path = settings.data_dir / SQLITE_FILENAME
    if settings.database_url is None and not path.exists():
        return Check(OK, "Audit log", f"{path} (empty: no write yet)")
    db = database_for(settings)
    try:
        count = len(await ServerStore(db).audit_rows())
    except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
        return Check(FAIL, "State database", f"{db.describe()}: {exc}")
    finally:
        await db.close()
    where = path if settings.database_url is None else db.describe()
    return Check(OK, "Audit log", f"{where} ({count} rows; `cleavr-mcp audit` shows them)")


def _approval_sign_in(settings) -> Check:
    """How a person signs in on the approval page over authenticated HTTP (server/approvals/signin.py, oidc.py)."""
    from ..server.auth import hash_token

    label = "Approval sign-in"
    admin = {d.strip().lower() for d in settings.approval_admin_token_hashes}
    bearer = {hash_token(t.get_secret_value()) for t in settings.auth_tokens} | {
        d.strip().lower() for d in settings.auth_token_hashes}
    if admin & bearer:
        return Check(FAIL, label, "an approval admin credential is also an MCP bearer token: the server will refuse "
                     "to start", "Make a separate one with `cleavr-mcp approvals admin-token`.")
    ways = ["one-time codes (`cleavr-mcp approvals sign-in-code`)"]
    if admin:
        ways.append("codes from POST /approvals/sign-in-codes (admin credential)")
    if settings.approval_oidc_issuer:
        if not settings.approval_oidc_client_id:
            return Check(FAIL, label, "CLEAVR_MCP_APPROVAL_OIDC_ISSUER is set without CLEAVR_MCP_APPROVAL_OIDC_CLIENT_ID",
                         "Set the client id (and secret) registered at the provider, redirect URI "
                         f"{settings.mcp_url.rsplit('/mcp', 1)[0]}/approvals/oidc/callback.")
        same_issuer = settings.approval_oidc_issuer.rstrip("/") == (settings.jwt_issuer or "").rstrip("/")
        if not settings.principals_file and not same_issuer:
            return Check(WARN, label, "the OIDC login maps no subject to a principal: there is no principals file "
                         "and its issuer is not CLEAVR_MCP_JWT_ISSUER", "Give principals a `jwt_subject` in the "
                         "principals file, or use the MCP tokens' own issuer.")
        ways.append(f"OIDC at {settings.approval_oidc_issuer}")
    return Check(OK, label, "; ".join(ways))


async def diagnose(settings, progress: Any = None) -> list[Check]:
    environment = _environment(settings)
    credentials = _credentials(settings)
    checks: list[Check] = [_config_sources(settings), _data_dir(settings), environment, credentials]
    if environment.status != FAIL:
        reach = await _reachable(settings)
        checks.append(reach)
        if progress:
            progress()
        if reach.status == OK and credentials.status != FAIL:
            checks += await _api_checks(settings)
    if progress:
        progress()
    checks.append(_live_writes(settings))
    checks += _allowed_roots(settings)
    checks.append(_policy(settings))
    checks += _http(settings)
    checks.append(await _audit(settings))
    return checks


def run(args) -> int:
    import anyio
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from ..config import Settings, describe_settings_error

    console = Console(highlight=False, soft_wrap=True)
    try:
        settings = Settings()
    except ValidationError as exc:  # the variables and what is wrong, never their values
        console.print(f"{_MARK[FAIL]} Configuration: {describe_settings_error(exc)}", markup=False)
        return 1

    with Progress(TextColumn("checking"), BarColumn(), transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("doctor", total=2)
        checks = anyio.run(lambda: diagnose(settings, progress=lambda: bar.advance(task)))
    for check in checks:
        console.print(check.render())
    failed = [c for c in checks if c.status == FAIL]
    console.print(f"\n{len(failed)} problem(s) found." if failed else "\nAll good.")
    return 1 if failed else 0
