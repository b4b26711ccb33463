"""The approval service: one ledger of pending writes, the page that decides them, and the ways to reach the person.

- `request(...)` is called by `writes.approve` when the write needs a person's yes and no elicitation form can
  carry it. It returns the decision already taken for exactly this (tool, principal, payload), or opens a new
  pending write and asks the person — in their browser (the server opens it: stdio, or an HTTP server on this
  machine without auth), or through a link the model passes on (HTTP with auth: the page then requires the
  person's own sign-in, see `signin.py` and `oidc.py`) — and waits a little for the answer.
- A decision is spent once (`consume`): the write runs for exactly one call.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from ...domain.approval import View
from ...storage import database_for
from . import browser
from .model import PendingWrite
from .signin import (
    CLIENT_WINDOW_SECONDS,
    MAX_FAILURES_PER_APPROVAL,
    MAX_FAILURES_PER_CLIENT,
    Redeemed,
    Sessions,
    SignInStore,
    normalize_code,
)
from .store import ApprovalStore, id_digest

logger = logging.getLogger("cleavr_mcp.server.approvals")

# local: the server opens the person's browser; link: the URL goes to the person via the model (sign-in required);
# url-local / url-link: the URL goes through the client's URL-mode elicitation (sign-in when over authenticated HTTP).
Where = Literal["local", "link", "url-local", "url-link"]


@dataclass(frozen=True)
class Decision:
    """What `request` found: approved (with the person's answers), declined, or still waiting."""

    state: Literal["approved", "declined", "pending", "unavailable"]
    answers: dict[str, Any]
    approval_id: str | None = None  # only for a new link-mode request: the URL goes to the person via the model
    url: str | None = None
    opened: bool = False


class ApprovalService:
    def __init__(self, settings: Any, key: bytes, *, clock=time.time) -> None:
        self.settings = settings
        self._key = hmac.new(key, b"cleavr-mcp/approvals/v1", hashlib.sha256).digest()
        self.clock = clock
        self._store: ApprovalStore | None = None
        self._lock = threading.Lock()
        self._users = 0
        self._local_page: _LocalPage | None = None
        self.http_base_url: str | None = None  # set when the routes are mounted on the HTTP app
        self.principals: Any = None  # server.principals.PrincipalDirectory: an OIDC subject → its principal's name
        self.max_failures_per_approval = MAX_FAILURES_PER_APPROVAL
        self.max_failures_per_client = MAX_FAILURES_PER_CLIENT
        self.sessions = Sessions(self._key, lifetime_seconds=settings.approval_session_minutes * 60)
        self.oidc: Any = None  # approvals.oidc.OIDCLogin, when the HTTP app is configured for it (enable_oidc)

    # --- lifecycle ----------------------------------------------------------------------------------------
    @property
    def codes(self) -> SignInStore:
        """The one-time sign-in codes, in the same state database as the ledger."""
        return SignInStore(self.ledger.db)

    @property
    def ledger(self) -> ApprovalStore:
        """The ledger in the state database of the active lifespan (shared by replicas with PostgreSQL)."""
        with self._lock:
            if self._store is None:
                self._store = ApprovalStore(database_for(self.settings))
            return self._store

    def acquire(self, database: Any = None) -> None:
        with self._lock:
            self._users += 1
            if database is not None and self._store is None:
                self._store = ApprovalStore(database)

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
            store, page = self._store, self._local_page
            self._store, self._local_page = None, None
        if page is not None:
            page.stop()
        del store  # the state database is closed by the lifespan that opened it

    # --- tokens -------------------------------------------------------------------------------------------
    def csrf_token(self, approval_id: str) -> str:
        return hmac.new(self._key, b"csrf:" + approval_id.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, approval_id: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(approval_id), token or "")

    def needs_login(self, write: PendingWrite) -> bool:
        return write.channel.endswith("link")

    # --- sign-in (link mode) --------------------------------------------------------------------------------
    @property
    def secure(self) -> bool:
        """The page is served over https (behind a proxy: the public URL says so): Secure cookies."""
        return (self.http_base_url or "").startswith("https://")

    @property
    def code_ttl_seconds(self) -> float:
        return self.settings.approval_signin_code_minutes * 60.0

    def signed_in_as(self, cookie: str | None) -> str | None:
        return self.sessions.principal(cookie, self.clock())

    def signed_in_for(self, write: PendingWrite, cookie: str | None) -> bool:
        principal = self.signed_in_as(cookie)
        return (principal is not None and hmac.compare_digest(principal.encode(), write.principal.encode())
                and self.principal_still_known(principal))

    def principal_still_known(self, name: str) -> bool:
        """A principal removed from the principals file signs in no more: its earlier codes and session cookies
        end with it (the server's own token:/jwt: names are not the file's)."""
        from .signin import SignInError, check_known

        try:
            check_known(name, self.principals)
        except SignInError:
            return False
        return True

    async def redeem_code(self, write: PendingWrite, approval_id: str, typed: str, client: str) -> Redeemed:
        """The person's one-time code for the write's principal; bounded guessing per approval and per client."""
        if normalize_code(typed) is None:
            return "invalid"  # no code, or one that cannot be a code: not a guess, nothing to count
        now = self.clock()
        codes = self.codes
        approval_scope, client_scope = f"approval:{id_digest(approval_id)}", f"client:{client}"
        # A throttled client adds no rows (a flood cannot grow the table); the approval's own count is exact.
        if await codes.attempts(client_scope, now - CLIENT_WINDOW_SECONDS) >= self.max_failures_per_client:
            return "throttled"
        attempt = await codes.begin_attempt([approval_scope, client_scope], now)
        tried = await codes.attempts(approval_scope, 0)
        if tried > self.max_failures_per_approval:
            await self.lock(approval_id)
            return "locked"
        if self.principal_still_known(write.principal) and await codes.redeem(typed, write.principal, now):
            await codes.forget_attempt(attempt)
            return "ok"
        if tried >= self.max_failures_per_approval:
            await self.lock(approval_id)
            return "locked"
        return "invalid"

    async def lock(self, approval_id: str) -> None:
        """Too many wrong codes: the write is declined (nothing is sent) and the assistant must ask again."""
        if await self.ledger.decide(approval_id, "declined", {}, self.clock()):
            logger.warning("approval locked after %d wrong sign-in codes", self.max_failures_per_approval)

    def subject_principal(self, subject: str) -> str | None:
        """The principal an OIDC subject signs in as: a principals-file entry with that `jwt_subject`; else, when
        the login's issuer is the MCP bearer JWTs' own, the name those JWTs get (their subject)."""
        from .oidc import subject_principal

        return subject_principal(self.settings, subject, self.principals)

    # --- admin credential (issuing codes over HTTP) ----------------------------------------------------------
    def admin_allowed(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        digests = [d.strip().lower() for d in self.settings.approval_admin_token_hashes]
        if scheme.lower() != "bearer" or not token.strip() or not digests:
            return False
        presented = hashlib.sha256(token.strip().encode()).hexdigest().encode()
        match = False
        for digest in digests:  # every digest compared: no timing hint about which
            match |= hmac.compare_digest(presented, digest.encode())
        return match

    # --- where the page lives --------------------------------------------------------------------------------
    def base_url(self, where: Where) -> str:
        if self.http_base_url is not None:
            return self.http_base_url
        with self._lock:
            if self._local_page is None:
                self._local_page = _LocalPage(self)
            return self._local_page.base_url

    def host_allowed(self, host: str | None) -> bool:
        """The HTTP app's own Host check when mounted there; else exactly the loopback page's host:port."""
        if self.http_base_url is not None:
            return self._host_check(host)
        page = self._local_page
        return page is not None and (host or "").strip().lower() == page.host

    def enable_oidc(self, jwks_cache: Any) -> None:
        """The OIDC login on the page (CLEAVR_MCP_APPROVAL_OIDC_*); `jwks_cache` is server.auth.JWKSCache."""
        from .oidc import OIDCLogin

        self.oidc = OIDCLogin(self.settings, self._key, jwks_cache=jwks_cache, clock=self.clock)

    def mount_http(self, base_url: str, host_check: Any) -> None:
        self.http_base_url = base_url.rstrip("/")
        self._host_check = host_check

    def url_for(self, approval_id: str, where: Where) -> str:
        return f"{self.base_url(where)}/approvals/{approval_id}"

    # --- decisions --------------------------------------------------------------------------------------------
    async def decide(self, approval_id: str, *, approved: bool, answers: dict[str, Any]) -> bool:
        return await self.ledger.decide(approval_id, "approved" if approved else "declined",
                                  answers if approved else {}, self.clock())

    async def close_pending(self, tool: str, principal: str, digest: str) -> None:
        found = await self.ledger.latest(tool, principal, digest)
        if found is not None and found[1].state == "pending":
            await self.ledger.decide_by_digest(found[0], "declined", self.clock())
            await self.ledger.consume(found[0], "declined", self.clock())

    async def _take(self, tool: str, principal: str, digest: str) -> Decision | None:
        """The decision already taken for exactly this write, spent now; None when there is none to spend."""
        found = await self.ledger.latest(tool, principal, digest)
        if found is None:
            return None
        id_sha256, write = found
        now = self.clock()
        if write.state in ("approved", "declined") and not write.expired(now):
            if await self.ledger.consume(id_sha256, write.state, now):
                return Decision(write.state, write.answers)
            return None  # another call spent it a moment ago
        if write.state == "pending" and not write.expired(now):
            return Decision("pending", {})
        return None

    async def request(self, *, tool: str, principal: str, payload: dict[str, Any], digest: str, view: View,
                      where: Where, wait_seconds: float, progress=None, open_browser: bool = True) -> Decision:
        taken = await self._take(tool, principal, digest)
        if taken is not None and taken.state != "pending":
            return taken
        created: Decision | None = None
        if taken is None:
            approval_id = secrets.token_urlsafe(32)
            now = self.clock()
            await self.ledger.insert(PendingWrite(
                id=approval_id, tool=tool, principal=principal, payload_sha256=digest, payload=payload, view=view,
                channel=where, state="pending", created_at=now,
                expires_at=now + self.settings.confirmation_ttl_seconds))
            url = self.url_for(approval_id, where)
            if where == "local" and open_browser:
                opened = await anyio.to_thread.run_sync(browser.open_url, url)
                if not opened:
                    await self.close_pending(tool, principal, digest)  # nobody can reach it: close it
                    return Decision("unavailable", {})
                created = Decision("pending", {}, opened=True)
            else:
                created = Decision("pending", {}, approval_id=approval_id, url=url)
        deadline = time.monotonic() + max(0.0, wait_seconds)
        step = 0
        while time.monotonic() < deadline:
            await anyio.sleep(0.2)
            step += 1
            if progress is not None and step % 5 == 0:
                await progress(step / 5, wait_seconds)
            found = await self.ledger.latest(tool, principal, digest)
            if found is not None and found[1].state in ("approved", "declined"):
                taken = await self._take(tool, principal, digest)
                if taken is not None and taken.state != "pending":
                    return taken
        return created or Decision("pending", {})


def principal_of_token(token: Any) -> str:
    """Who asked, from a verified access token: the OAuth subject when there is one, else the client id."""
    return str(getattr(token, "subject", None) or getattr(token, "client_id", None) or "anonymous")


class _LocalPage:
    """The page on an ephemeral loopback port, served by uvicorn in a thread (stdio: no HTTP app of our own)."""

    def __init__(self, service: ApprovalService) -> None:
        import socket

        import uvicorn
        from starlette.applications import Starlette

        from .page import routes

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        port = self._sock.getsockname()[1]
        self.host = f"127.0.0.1:{port}"
        self.base_url = f"http://{self.host}"
        app = Starlette(routes=routes(service))
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
                                        name="cleavr-approval-page")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
