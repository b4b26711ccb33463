"""All configuration in one place: environment variables (prefix CLEAVR_MCP_), then `.env`, then defaults."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .cleavr.contract import API_VERSION, TEST_BASE_URL


class Environment(StrEnum):
    SANDBOX = "sandbox"  # the embedded stand-in (no base URL), or a sandbox on this machine (a loopback host)
    TEST = "test"  # api-test.cleavr.fr
    LIVE = "live"  # api.cleavr.fr, and any other host: real money, real legal action


def api_host(base_url: str) -> str | None:
    """The host a base URL really points at: parsed (userinfo and port dropped), lower-cased, trailing dots
    removed, IDNA-decoded (`https://API.Cleavr.FR.:443/` → `api.cleavr.fr`); None when there is none."""
    try:
        host = urlparse(base_url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    try:
        host = host.encode("ascii").decode("idna") if host.isascii() else host
    except UnicodeError:
        pass
    return host or None


def redacted_url(url: str | None) -> str:
    """A URL fit for a message: any userinfo (user:password@) replaced, the rest as configured."""
    if not url:
        return str(url)
    try:
        parts = urlparse(url)
    except ValueError:
        return "(unparseable URL)"
    if "@" in parts.netloc:
        return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()
    return url


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def environment_of(base_url: str | None) -> Environment:
    """Decided by the parsed host, and fail-safe: the documented test host is `test`, no base URL (the embedded
    sandbox) or a loopback host (a local sandbox) is `sandbox`, ANYTHING else — the live host however spelled, a
    proxy, a typo — is `live`, so the live-write opt-in applies to it."""
    if base_url is None:
        return Environment.SANDBOX
    text = base_url.strip()
    if any(ch.isspace() or ch == "\\" or not ch.isprintable() for ch in text) or "@" in urlparse(text).netloc:
        return Environment.LIVE  # userinfo or odd characters: URL parsers disagree on the host, so assume live
    host = api_host(text)
    if host is not None and host == urlparse(TEST_BASE_URL).hostname:
        return Environment.TEST
    if host is not None and _loopback(host):
        return Environment.SANDBOX
    return Environment.LIVE


def default_data_dir() -> Path:
    return Path(user_data_dir("cleavr-mcp", appauthor=False))


# List settings read from the environment as "a,b,c" (or a JSON list): NoDecode stops pydantic-settings from
# insisting on JSON, and `_split_list` below does the parsing.
StrList = Annotated[list[str], NoDecode]
SecretList = Annotated[list[SecretStr], NoDecode]
PathList = Annotated[list[Path], NoDecode]

_LIST_FIELDS = (
    "allowed_roots", "toolsets", "tools", "exclude_tools", "auth_tokens", "auth_token_hashes", "allowed_hosts",
    "allowed_origins", "request_state_keys", "jwt_algorithms", "jwt_required_scopes", "approval_admin_token_hashes",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLEAVR_MCP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- Cleavr Connect ---------------------------------------------------------------------------------
    base_url: str | None = Field(None, description="Cleavr API base URL; unset = embedded sandbox")
    api_version: str = Field(API_VERSION, description="Cleavr-Version header")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    token_file: Path | None = Field(None, description="Token store (0600); default <data_dir>/tokens.json")
    webhook_secret: SecretStr | None = None
    allow_live_writes: bool = Field(False, description="Required before any write against api.cleavr.fr")
    timeout_seconds: float = 30.0
    max_retries: int = 4
    retry_budget_seconds: float = 30.0

    # --- CleverInvo ---------------------------------------------------------------------------------------
    cleverinvo_base_url: str | None = Field(None, description="CleverInvo API base; unset = sandbox")
    cleverinvo_api_key: SecretStr | None = None
    cleverinvo_rate_limit_per_minute: int = Field(
        120, ge=1, description="CleverInvo calls a minute per API key: the plan's limit (the sandbox enforces it too)")

    # --- Local state ----------------------------------------------------------------------------------------
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: SecretStr | None = Field(
        None, description="Server state: unset = SQLite in the data dir; postgresql://… = shared by replicas")

    # --- Sandbox --------------------------------------------------------------------------------------------
    sandbox_db: Path | None = Field(None, description="Sandbox SQLite file; default <data_dir>/sandbox.sqlite3")
    sandbox_fault_5xx_rate: float = Field(0.0, ge=0, le=1)
    sandbox_fault_429_rate: float = Field(0.0, ge=0, le=1)
    sandbox_fault_drop_rate: float = Field(0.0, ge=0, le=1, description="commit, then drop the connection")
    sandbox_latency_ms: int = Field(0, ge=0)
    sandbox_rate_limit_per_second: int = Field(100, ge=1)
    sandbox_seed: bool = Field(True, description="Seed a demo creditor (and CleverInvo data) on first start")

    # --- MCP server -------------------------------------------------------------------------------------
    confirmation_key: SecretStr | None = Field(None, description="HMAC key for confirmation tokens")
    confirmation_ttl_seconds: int = 600
    fail_closed: bool = Field(False, description="Refuse risky tools when the client cannot ask the human "
                              "(same as confirm_channel=elicitation)")
    # --- approvals (server/approvals/) --------------------------------------------------------------------
    confirm_channel: Literal["auto", "elicitation", "browser", "model-token"] = Field(
        "auto", description="How a person approves risky writes: auto (form elicitation, else URL-mode elicitation, "
        "else the approval page), elicitation (only the client's own; else refuse), browser (always the page), "
        "model-token (the agent confirms with a token: explicit opt-in)")
    approval_wait_seconds: float = Field(
        25.0, ge=0, le=120, description="How long a tool call waits for the person's decision on the page")
    # Sign-in on the approval page over authenticated HTTP (server/approvals/signin.py, oidc.py).
    approval_signin_code_minutes: int = Field(
        10, ge=1, le=1440, description="How long a one-time sign-in code for the approval page stays valid")
    approval_session_minutes: int = Field(
        30, ge=1, le=720, description="How long the approval page's sign-in cookie lasts (no new code meanwhile)")
    approval_admin_token_hashes: StrList = Field(
        default_factory=list, description="SHA-256 hex digests of the admin credentials that may issue sign-in "
        "codes over HTTP (POST /approvals/sign-in-codes); never an MCP bearer token")
    approval_oidc_issuer: str | None = Field(
        None, description="OpenID Connect issuer for signing in on the approval page (discovery at "
        "<issuer>/.well-known/openid-configuration)")
    approval_oidc_client_id: str | None = None
    approval_oidc_client_secret: SecretStr | None = None
    approval_oidc_scopes: str = Field("openid", description="Scopes asked for at the OIDC login (space-separated)")
    allowed_roots: PathList = Field(default_factory=list, description="Folders tools may read files from")
    read_only: bool = False
    toolsets: StrList | None = None
    tools: StrList | None = None
    exclude_tools: StrList = Field(default_factory=list)
    no_money: bool = Field(False, description="Remove the money class of tools")
    http_host: str = "127.0.0.1"
    http_port: int = 8765
    public_url: str | None = Field(
        None, description="The MCP endpoint as clients reach it (behind a proxy); default http://<host>:<port>/mcp")
    stateless_http: bool = Field(False, description="No Mcp-Session-Id for 2025-era clients (any replica answers)")
    json_response: bool = Field(False, description="Plain JSON responses instead of SSE (no progress notifications)")
    auth_tokens: SecretList = Field(default_factory=list, description="Bearer tokens accepted over HTTP")
    auth_token_hashes: StrList = Field(
        default_factory=list, description="SHA-256 hex digests of accepted bearer tokens (keeps raw tokens out of config)")
    auth_issuer_url: str | None = Field(
        None, description="Authorization server advertised in the protected-resource metadata; default jwt_issuer")
    jwks_url: str | None = None
    jwt_issuer: str | None = Field(None, description="Required `iss` of JWT bearer tokens")
    jwt_audience: str | None = Field(None, description="Required `aud` of JWT bearer tokens")
    jwt_algorithms: StrList = Field(default_factory=lambda: ["RS256", "ES256"])
    jwt_required_scopes: StrList = Field(default_factory=list, description="Scopes a JWT must carry")
    jwks_cache_seconds: float = Field(300.0, ge=0)
    principals_file: Path | None = Field(
        None, description="TOML file of [[principals]]: who may act for which creditors (re-read when it changes)")
    jwt_user_ids_claim: str | None = Field(
        None, description="JWT claim listing the caller's Cleavr user ids (or \"*\"); default cleavr_user_ids")
    allowed_hosts: StrList = Field(default_factory=list)
    allowed_origins: StrList = Field(default_factory=list)
    request_state_keys: SecretList = Field(
        default_factory=list, description="Keys sealing elicitation request_state (first seals, all open); share across replicas")
    request_state_audience: str | None = Field(None, description="Audience stamped into request_state; default cleavr-mcp")
    poll_interval_seconds: float = Field(60.0, gt=0, description="Seconds between two polls of the receivables")
    poll_events: bool = Field(
        True, description="Poll receivables for status changes (derived events) when webhooks cannot reach the server")
    webhook_port: int | None = Field(
        None, ge=1, le=65535, description="Also listen for Cleavr webhooks on this port (POST /webhooks/cleavr); stdio")
    webhook_host: str = Field("127.0.0.1", description="Bind address of the webhook listener (loopback by default)")

    @field_validator(*_LIST_FIELDS, mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError as exc:  # the message says where, never what (the value may be a secret)
                raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos}); write a JSON list of "
                                 'strings such as ["a", "b"], or a comma-separated list a,b') from None
            if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
                raise ValueError('must be a JSON list of strings such as ["a", "b"]')
            return parsed
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("auth_tokens", "request_state_keys", mode="after")
    @classmethod
    def _no_blank_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        # An empty token would be dropped by the verifier: the setting would say "auth on" with no auth installed.
        for number, item in enumerate(value, start=1):
            secret = item.get_secret_value()
            if not secret.strip():
                raise ValueError(f"entry {number} of {len(value)} is empty or only whitespace: remove it, or put a "
                                 "real value there (`cleavr-mcp auth new-token` makes a bearer token)")
            if secret != secret.strip():
                raise ValueError(f"entry {number} of {len(value)} starts or ends with whitespace: remove it")
        return value

    @property
    def auth_configured(self) -> bool:
        """Some auth setting is given. Whether auth is ON is decided by the verifier actually built from them
        (`server.auth.auth_installed`), never by this."""
        return bool(self.auth_tokens or self.auth_token_hashes or self.jwks_url or self.principals_file)

    @property
    def effective_confirm_channel(self) -> str:
        return "elicitation" if self.fail_closed and self.confirm_channel == "auto" else self.confirm_channel

    @property
    def mcp_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}/mcp"

    @property
    def uses_sandbox(self) -> bool:
        return self.base_url is None

    @property
    def environment(self) -> Environment:
        return environment_of(self.base_url)

    @property
    def sandbox_db_path(self) -> Path:
        return self.sandbox_db or self.data_dir / "sandbox.sqlite3"

    @property
    def token_path(self) -> Path:
        return self.token_file or self.data_dir / "tokens.json"

    def ensure_data_dir(self) -> Path:
        from .private_files import private_dir

        return private_dir(self.data_dir)


def describe_settings_error(exc: ValidationError) -> str:
    """One line per invalid setting: the variable and what is wrong with it, never the value (it may be a secret)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        name = str(error["loc"][0]) if error["loc"] else "?"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"CLEAVR_MCP_{name.upper()}: {message}")
    return "invalid setting(s):\n  " + "\n  ".join(lines)
