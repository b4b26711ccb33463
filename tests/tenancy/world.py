"""Two creditors, four principals, one real HTTP server: the world the tenancy proofs run in (no mocks).

- creditor `a` is the embedded sandbox's demo creditor (so the server instructions, which name it, are part of the
  proof); creditor `b` is created and onboarded here. Each gets receivables (one in recovery, one disputed with a
  debtor message, one with a partial payment), signed webhook events and a PDF extraction, every one of them with
  names, amounts, invoice numbers and text of its own: its *markers*, collected while seeding.
- the principals file (TOML, `CLEAVR_MCP_PRINCIPALS_FILE`): A (creditor a, its own CleverInvo account), B (creditor
  b), R (creditor a, read-only), ADMIN (every creditor, may create users). Only token hashes are written.
- `Recorder`: an httpx2 transport keeping every byte each client sent and received (SSE streams included), so a
  leak is searched in what really crossed the wire, notifications and errors included.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.webhooks import sign
from cleavr_mcp.config import Settings
from cleavr_mcp.testing import Human, SandboxAdmin, bound_socket, demo_user, embedded_admin, running_app, submission

WEBHOOK_SECRET = "whsec_tenancy_proof_0123456789abcdef"
CLEVERINVO_KEY_ENV = "CLEAVR_TENANCY_TEST_A_CLEVERINVO_KEY"  # principal A's own CleverInvo account (a variable name)
ERAS = ["auto", "legacy"]  # the SDK Client's modes: 2026-07-28, and the 2025-11-25 handshake


# --- creditors -----------------------------------------------------------------------------------------------
@dataclass
class Creditor:
    """One creditor's ids (what a caller names in arguments) and markers (what must never reach another)."""

    key: str
    user_id: str
    company: str
    receivable_id: str = ""  # in recovery
    disputed_id: str = ""  # disputed, with a debtor message
    partial_id: str = ""  # a partial payment awaiting the platform's decision
    event_ids: list[str] = field(default_factory=list)  # webhook events in the server's inbox
    extraction_id: str = ""
    pdf: Path | None = None  # an invoice PDF inside the allowed root (evidence, extraction)
    markers: set[str] = field(default_factory=set)  # names, emails, amounts, invoice numbers, event text

    @property
    def event_id(self) -> str:
        return self.event_ids[0]

    @property
    def ids(self) -> set[str]:
        return {self.user_id, self.receivable_id, self.disputed_id, self.partial_id, self.extraction_id,
                *self.event_ids} - {""}


@dataclass(frozen=True)
class Missing:
    """Ids that exist nowhere, shaped exactly like the foreign ones (same prefix, same length): an answer about a
    foreign id, with the id swapped, must be byte-identical to the answer about these."""

    user_id: str
    receivable_id: str
    disputed_id: str
    partial_id: str
    event_id: str
    extraction_id: str
    pdf: Path | None

    @classmethod
    def like(cls, other: Creditor) -> Missing:
        return cls(*(_absent(i) for i in (other.user_id, other.receivable_id, other.disputed_id, other.partial_id,
                                          other.event_id, other.extraction_id)), other.pdf)

    def swap(self, foreign: Creditor) -> dict[str, str]:
        """foreign id -> the missing id in the same place."""
        pairs = [(foreign.user_id, self.user_id), (foreign.receivable_id, self.receivable_id),
                 (foreign.disputed_id, self.disputed_id), (foreign.partial_id, self.partial_id),
                 (foreign.event_id, self.event_id), (foreign.extraction_id, self.extraction_id)]
        return dict(pairs)


def _absent(real: str) -> str:
    prefix, _, rest = real.rpartition("_")
    filler = ("dead0beef0" * 8)[: len(rest)]
    return f"{prefix}_{filler}"


def amount_forms(amount: str) -> set[str]:
    """"7314.59" as JSON, French and English text show it."""
    units, cents = amount.split(".")
    grouped = f"{int(units):,}"
    spaced = {grouped.replace(",", space) for space in (" ", "\u202f", "\u00a0")}
    return {amount, f"{units},{cents}", f"{grouped}.{cents}", *(f"{g},{cents}" for g in spaced)}


@dataclass(frozen=True)
class Look:
    """What one creditor's seeded data looks like: distinct from the other's in every text a response may carry."""

    word: str  # ALPHA / BRAVO, in invoice numbers and event text
    debtor: str
    contact_first: str
    contact_last: str
    email: str
    amount: str
    partial_paid: str
    dispute_text: str


LOOKS = {
    "a": Look("ALPHA", "Aubergine Logistique SARL", "Anatole", "Arsenault", "anatole@aubergine-logistique.example",
              "7314.59", "1111.37", "ALPHA-DISPUTE the Aubergine pallets never arrived at Quai Zephyrin"),
    "b": Look("BRAVO", "Bergamote Conseil SAS", "Bertille", "Boisvert", "bertille@bergamote-conseil.example",
              "2468.13", "913.27", "BRAVO-DISPUTE the Bergamote audit report was never delivered to Rue Xanthe"),
}


def receivable_body(user_id: str, look: Look, number: str) -> dict[str, Any]:
    body = submission(user_id, number=number, amount=look.amount, phone="+33612345678", email=look.email)
    body["debtor"]["company_name"] = look.debtor
    body["debtor"]["contacts"][0].update(first_name=look.contact_first, last_name=look.contact_last)
    body["metadata"] = {"platform_invoice_id": f"plat-{number}"}
    return body


def invoice_pdf(look: Look, number: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    units, cents = look.amount.split(".")
    before = f"{float(look.amount) / 1.2:.2f}".replace(".", ",")
    for line in ("Fournisseur SAS", "SIRET 73282932000074", "", f"FACTURE N° {number}", "Date : 01/08/2025",
                 "Échéance : 31/08/2025", "", f"Client : {look.debtor}", "456 Avenue des Champs, 69000 Lyon",
                 look.email, "", f"Total HT : {before} EUR", f"Total TTC : {units},{cents} EUR"):
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def seed_receivables(admin: SandboxAdmin, creditor: Creditor, look: Look) -> None:
    numbers = {kind: f"INV-{look.word}-{kind.upper()}-{uuid.uuid4().hex[:6]}" for kind in ("main", "disp", "part")}
    ids = {}
    for kind, number in numbers.items():
        rec = await admin.post("/v1/receivables", receivable_body(creditor.user_id, look, number),
                               **{"Idempotency-Key": number})
        ids[kind] = rec["id"]
        await admin.advance(rec["id"], "start_recovery")
    await admin.advance(ids["disp"], "dispute", reason="service_not_delivered", debtor_message=look.dispute_text,
                        evidence_requested=["delivery_confirmation"])
    await admin.advance(ids["part"], "partial_payment", paid_amount=look.partial_paid)
    creditor.receivable_id, creditor.disputed_id, creditor.partial_id = ids["main"], ids["disp"], ids["part"]
    creditor.markers |= {look.debtor, look.contact_first, look.contact_last, look.email, look.dispute_text,
                         look.dispute_text[:40], *numbers.values(), *amount_forms(look.amount),
                         *amount_forms(look.partial_paid)}


def write_invoice_pdf(creditor: Creditor, look: Look, root: Path) -> None:
    number = f"INV-{look.word}-PDF-{uuid.uuid4().hex[:6]}"
    creditor.pdf = root / f"{creditor.key}-invoice.pdf"
    creditor.pdf.write_bytes(invoice_pdf(look, number))
    creditor.markers.add(number)


def pdf_content(path: Path) -> dict[str, str]:
    """A file as a principal of some creditors sends it: its content (no server folder is opened to it)."""
    import base64

    return {"content_base64": base64.b64encode(path.read_bytes()).decode(), "filename": path.name}


async def seed_extraction(world: World, creditor: Creditor, caller: Caller) -> None:
    """The creditor's own principal reads its PDF through the server, as a platform would (the server records
    whose extraction it is; an extraction it never saw is nobody's)."""
    async with connect(world, caller, "auto") as client:
        result = await client.call_tool("extract_pdf", {"user_id": creditor.user_id,
                                                        "file": pdf_content(creditor.pdf)})
    assert not result.is_error, result.content
    creditor.extraction_id = result.structured_content["extraction_id"]


async def onboard(admin: SandboxAdmin, key: str, company: str) -> Creditor:
    email = f"finance-{uuid.uuid4().hex[:6]}@{company.split()[0].lower()}-creditor.example"
    user = await admin.post("/v1/users", {"email": email, "company": {"name": company, "siret": "73282932000074"},
                                          "contact": {"first_name": "Claire", "phone": "+33612345678"}},
                            **{"Idempotency-Key": email})
    await admin.post(f"/sandbox/users/{user['id']}/complete-onboarding", {"status": "active"})
    creditor = Creditor(key, user["id"], company)
    creditor.markers |= {company, email}
    return creditor


def envelope(event_id: str, event_type: str, **data: Any) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "created_at": datetime.now(UTC).isoformat(), "data": data}


def post_webhook(base: str, body: dict[str, Any]) -> httpx2.Response:
    raw = wire.dumps(body)
    return httpx2.post(f"{base}/webhooks/cleavr", content=raw, timeout=10,
                       headers={"Content-Type": "application/json", "Cleavr-Signature": sign(WEBHOOK_SECRET, raw)})


def webhook_events(creditor: Creditor, look: Look) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:10]
    return [
        envelope(f"evt_{look.word.lower()}disp{tag}", "receivable.disputed", receivable_id=creditor.disputed_id,
                 user_id=creditor.user_id, dispute={"reason": "service_not_delivered", "debtor_message": look.dispute_text,
                                                    "evidence_requested": ["delivery_confirmation"]}),
        envelope(f"evt_{look.word.lower()}paid{tag}", "payment.received", receivable_id=creditor.receivable_id,
                 user_id=creditor.user_id, amount=look.amount),
    ]


# --- principals ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    """One principal as the tests see it: its token, its creditors, its ceilings."""

    name: str
    token: str
    creditors: tuple[str, ...]  # creditor keys; ("*",) = every creditor
    read_only: bool = False
    create_users: bool = False
    cleverinvo: bool = False  # has its own CleverInvo account

    @property
    def every_creditor(self) -> bool:
        return self.creditors == ("*",)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def may_see(self, creditor_key: str) -> bool:
        return self.every_creditor or creditor_key in self.creditors

    def sees_tool(self, spec: Any) -> bool:
        """The ceiling the server must apply to this principal (TENANCY.md)."""
        from cleavr_mcp.toolkit.registry import Toolset

        if self.read_only and not spec.read_only:
            return False
        if spec.name == "create_user" and not self.create_users:
            return False
        if spec.toolset is Toolset.CLEVERINVO and not (self.cleverinvo or self.every_creditor):
            return False
        return True


CALLERS = {
    "A": Caller("A", "tenancy-proof-token-A-" + "1" * 24, ("a",), cleverinvo=True),
    "B": Caller("B", "tenancy-proof-token-B-" + "2" * 24, ("b",)),
    "R": Caller("R", "tenancy-proof-token-R-" + "3" * 24, ("a",), read_only=True),
    "ADMIN": Caller("ADMIN", "tenancy-proof-token-ADMIN-" + "4" * 20, ("*",), create_users=True),
    # No creditor yet; the creditors it creates are granted to it (not in the matrix: it owns nothing seeded).
    "C": Caller("C", "tenancy-proof-token-C-" + "5" * 24, (), create_users=True),
}


def principals_toml(callers: Iterable[Caller], creditors: dict[str, Creditor]) -> str:
    lines = []
    for c in callers:
        users = ["*"] if c.every_creditor else [creditors[k].user_id for k in c.creditors]
        lines += ["[[principals]]", f'name = "{c.name}"',
                  f'token_sha256 = "{hashlib.sha256(c.token.encode()).hexdigest()}"',
                  f"user_ids = {json.dumps(users)}", f"read_only = {str(c.read_only).lower()}",
                  f"create_users = {str(c.create_users).lower()}"]
        if c.cleverinvo:
            lines.append(f'cleverinvo_api_key_env = "{CLEVERINVO_KEY_ENV}"')
        lines.append("")
    return "\n".join(lines)


# --- the world -----------------------------------------------------------------------------------------------
@dataclass
class World:
    base: str  # http://127.0.0.1:port
    settings: Settings
    creditors: dict[str, Creditor]
    invoice_id: str  # a CleverInvo invoice of A's account
    cleverinvo_markers: set[str]  # client names of A's CleverInvo account

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def own(self, caller: Caller) -> Creditor:
        return self.creditors["a" if caller.every_creditor else caller.creditors[0]]

    def foreign(self, caller: Caller) -> Creditor | None:
        others = [c for k, c in self.creditors.items() if not caller.may_see(k)]
        return others[0] if others else None

    def forbidden_markers(self, caller: Caller) -> set[str]:
        """Text of creditors this caller may not act for (and of accounts that are not its own)."""
        out: set[str] = set()
        for key, creditor in self.creditors.items():
            if not caller.may_see(key):
                out |= creditor.markers
        if not (caller.cleverinvo or caller.every_creditor):
            out |= self.cleverinvo_markers
        return out

    def forbidden_ids(self, caller: Caller) -> set[str]:
        return {i for k, c in self.creditors.items() if not caller.may_see(k) for i in c.ids}


def world_settings(data: Path, docs: Path, port: int, principals: Path, **extra: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data, allowed_roots=[docs], http_port=port,
                    webhook_secret=WEBHOOK_SECRET, principals_file=principals,
                    **{"poll_events": False, "confirm_channel": "elicitation", **extra})


@contextmanager
def running_world(tmp: Path, **extra: Any) -> Iterator[World]:
    """Seed the sandbox, write the principals file, serve the MCP app over HTTP, post the webhooks."""
    from cleavr_mcp.sandbox.cleverinvo.store import Store as CleverInvoStore
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.server.http import build_http_app

    docs = tmp / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    principals = tmp / "principals.toml"
    sock, port = bound_socket()
    settings = world_settings(tmp / "data", docs, port, principals, **extra)
    admin = embedded_admin(settings)  # creates and seeds the embedded sandbox's SQLite file

    async def seed() -> dict[str, Creditor]:
        try:
            a = Creditor("a", demo_user(settings), "")
            with sqlite3.connect(settings.sandbox_db_path) as db:
                a.company = json.loads(db.execute("SELECT doc FROM users WHERE id = ?",
                                                  (a.user_id,)).fetchone()[0])["company"]["name"]
            a.markers.add(a.company)
            b = await onboard(admin, "b", "Bergamote Holding SAS")
            for creditor in (a, b):
                await seed_receivables(admin, creditor, LOOKS[creditor.key])
                write_invoice_pdf(creditor, LOOKS[creditor.key], docs)
            return {"a": a, "b": b}
        finally:
            await admin.aclose()

    creditors = anyio.run(seed)
    ci = CleverInvoStore(settings.sandbox_db_path)
    try:
        os.environ[CLEVERINVO_KEY_ENV] = ci.add_api_key("tenant-a")
    finally:
        ci.close()
    with sqlite3.connect(settings.sandbox_db_path) as db:
        invoice_id = db.execute("SELECT id FROM ci_invoices WHERE status = 'OVERDUE' ORDER BY id LIMIT 1").fetchone()[0]
        ci_names = {row[0] for row in db.execute("SELECT name FROM ci_clients")}
    principals.write_text(principals_toml(CALLERS.values(), creditors))
    app = build_http_app(build_server(settings), settings)
    try:
        with running_app(app, sock) as base:
            for key, creditor in creditors.items():
                for body in webhook_events(creditor, LOOKS[key]):
                    resp = post_webhook(base, body)
                    assert resp.status_code == 200, resp.text
                    creditor.event_ids.append(body["id"])
            world = World(base, settings, creditors, invoice_id, ci_names)
            for key, name in (("a", "A"), ("b", "B")):
                anyio.run(seed_extraction, world, creditors[key], CALLERS[name])
            yield world
    finally:
        os.environ.pop(CLEVERINVO_KEY_ENV, None)


# --- what crossed the wire -----------------------------------------------------------------------------------
@dataclass
class Exchange:
    method: str
    sent: bytes
    received: bytearray = field(default_factory=bytearray)
    encoding: str | None = None


class _Tee(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, into: bytearray) -> None:
        self.inner = inner
        self.into = into

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.into.extend(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class Recorder(httpx2.AsyncBaseTransport):
    """Every request body sent and every response byte received (streams too), per HTTP exchange."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        sent = await request.aread()
        response = await self.inner.handle_async_request(request)
        exchange = Exchange(request.method, bytes(sent), encoding=response.headers.get("content-encoding"))
        self.exchanges.append(exchange)
        return httpx2.Response(response.status_code, headers=response.headers, request=request,
                               stream=_Tee(response.stream, exchange.received), extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def mark(self) -> int:
        return len(self.exchanges)

    def received(self, since: int = 0) -> bytes:
        return b"\n".join(bytes(e.received) for e in self.exchanges[since:])


def forms(text: str) -> set[bytes]:
    """A marker as it can appear in bytes: UTF-8, and JSON-escaped (\\u00e9)."""
    return {text.encode(), json.dumps(text)[1:-1].encode(), json.dumps(text, ensure_ascii=False)[1:-1].encode()}


def leaks(recorder: Recorder, markers: Iterable[str], ids: Iterable[str], since: int = 0) -> list[str]:
    """Markers found in any received byte; ids found in a response to a request that did not name them."""
    found = []
    for exchange in recorder.exchanges[since:]:
        assert exchange.encoding in (None, "identity"), f"compressed response ({exchange.encoding}): cannot search"
        got = bytes(exchange.received)
        for marker in markers:
            if any(form in got for form in forms(marker)):
                found.append(f"{marker!r} in a {exchange.method} response: {_around(got, marker)}")
        for id_ in ids:
            if id_.encode() in got and id_.encode() not in exchange.sent:
                found.append(f"{id_} (not asked for) in a {exchange.method} response: {_around(got, id_)}")
    return found


def _around(got: bytes, marker: str, width: int = 120) -> str:
    for form in forms(marker):
        i = got.find(form)
        if i >= 0:
            return got[max(0, i - width): i + len(form) + width].decode(errors="replace")
    return ""


@asynccontextmanager
async def connect(world: World, caller: Caller, era: str, *, human: Human | None = None,
                  recorder: Recorder | None = None, **kwargs: Any) -> AsyncIterator[Any]:
    """The SDK Client over streamable HTTP as `caller`, every byte recorded."""
    from tests.deploy.conftest import HttpMCP

    if human is not None:
        kwargs["elicitation_callback"] = human
    async with HttpMCP(world.url, caller.headers, transport=recorder or Recorder(), mode=era, **kwargs) as client:
        yield client


# --- what was written ----------------------------------------------------------------------------------------
_SKIP_TABLES = ("access_tokens", "refresh_tokens", "oauth_codes", "oauth_tokens", "schema_migrations", "meta",
                "audit")


def _table_digests(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table in _SKIP_TABLES or table.startswith("sqlite_") or "cache" in table or "owner" in table:
                continue  # credentials, bookkeeping, and caches of facts that never change (a receivable's owner)
            rows = db.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()  # noqa: S608 - names from sqlite
            out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


@dataclass(frozen=True)
class Snapshot:
    tables: dict[str, str]
    audit_seq: int


def audit_since(settings: Settings, seq: int) -> list[dict[str, Any]]:
    path = settings.data_dir / "server.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM audit WHERE seq > ? ORDER BY seq", (seq,))]


def snapshot(world: World) -> Snapshot:
    """Every business row of the sandbox (receivables, users, events, extractions, evidence, CleverInvo, …) and of
    the server's state (approvals, spent tokens, the event inbox and its acknowledgements), hashed per table."""
    settings = world.settings
    tables = {f"sandbox.{k}": v for k, v in _table_digests(settings.sandbox_db_path).items()}
    tables |= {f"server.{k}": v for k, v in _table_digests(settings.data_dir / "server.sqlite3").items()}
    rows = audit_since(settings, -1)
    return Snapshot(tables, rows[-1]["seq"] if rows else 0)


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(k for k in before.tables.keys() | after.tables.keys()
                  if before.tables.get(k) != after.tables.get(k))
