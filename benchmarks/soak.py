"""Soak: N tool calls over streamable HTTP from 8 concurrent MCP clients against the sandbox with 20 % API faults.

Three processes: the sandbox (`cleavr-mcp sandbox`, faults switched on with PUT /sandbox/faults), the server under
test (`cleavr-mcp serve --transport http`, talking to the sandbox over HTTP with real OAuth tokens), and this one
with the clients (half on protocol 2026-07-28, half on the 2025-11-25 handshake; their human accepts every
confirmation). The mix: new submissions, repeats of submissions that already succeeded (must not create a second
receivable), reads, quotes, and a lookup of an id that does not exist (must be a clear error).

Pass/fail, checked at the end with the faults off:
- every call ended in a success or a clear error (isError with a code, a message, a next step, no stack trace);
  no protocol error, no exception, no unstructured error;
- zero duplicates and zero lost: the sandbox's receivable count grew by exactly the number of distinct invoices
  the clients were told were submitted, and no submission was left in doubt;
- the server's RSS grew by less than 10 % from the end of the warm-up to the end.

With `--tenants 2` (make soak-tenants) the server runs with a principals file: two principals, each acting for a
creditor of its own, with half the clients each (both eras each). Every answer is searched for the other
principal's markers (its creditor id, its debtor's name, its invoice numbers, its amount), and now and then a client
asks for the other principal's receivable, which must be NOT_FOUND like an id that does not exist. PASS also needs
zero leaks.

    .venv/bin/python benchmarks/soak.py [--calls 10000] [--clients 8] [--tenants 2]   # make soak / soak-tenants
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CLI,
    FAULTS_20,
    RETRYABLE,
    accept,
    error_code,
    free_port,
    is_clear_error,
    process,
    receivable_args,
    rss_kb,
    sandbox_process,
    wait_http,
)

CALLER_ATTEMPTS = 5  # calls a model makes for one submission at most (each counts as a tool call)


@dataclass
class Tenant:
    """A principal of the principals file and the creditor it acts for; `token` None: no auth (the plain soak)."""

    name: str
    user_id: str
    token: str | None = None
    debtor: str = "Debtor Corp"
    amount: str = "1200.00"

    @property
    def prefix(self) -> str:
        return f"SOAK{self.name.upper()}-"

    def markers(self) -> list[str]:
        """What must never appear in another principal's answers (its invoice numbers all start with prefix)."""
        return [self.user_id, self.debtor, self.amount, self.prefix]

    def receivable(self, number: str) -> dict:
        args = receivable_args(self.user_id, number, amount=self.amount)
        args["debtor"]["company_name"] = self.debtor
        return args


@dataclass
class SoakReport:
    calls: int = 0
    outcomes: Counter = field(default_factory=Counter)  # ok / error:<CODE> / protocol_error / unclear_error
    by_tool: Counter = field(default_factory=Counter)
    submitted: dict[str, str] = field(default_factory=dict)  # invoice number -> receivable id the client was told
    replays_ok: int = 0
    in_doubt: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sandbox_created: int = 0
    rss_start_kb: int = 0
    rss_warm_kb: int = 0
    rss_end_kb: int = 0
    seconds: float = 0.0
    tenants: int = 1
    leaks: list[str] = field(default_factory=list)  # another principal's marker found in an answer
    foreign_probes: int = 0  # asks for another principal's receivable (each must be NOT_FOUND)

    @property
    def rss_growth(self) -> float:
        return (self.rss_end_kb - self.rss_warm_kb) / self.rss_warm_kb if self.rss_warm_kb else 0.0

    @property
    def passed(self) -> bool:
        return (not self.problems and not self.in_doubt and self.sandbox_created == len(self.submitted)
                and self.rss_growth < 0.10 and not self.leaks)

    def summary(self) -> dict:
        return {"calls": self.calls, "seconds": round(self.seconds, 1),
                "calls_per_second": round(self.calls / self.seconds, 1) if self.seconds else None,
                "outcomes": dict(self.outcomes.most_common()), "by_tool": dict(self.by_tool.most_common()),
                "distinct_invoices_submitted": len(self.submitted), "sandbox_receivables_created": self.sandbox_created,
                "replays_returned_same_receivable": self.replays_ok, "in_doubt": len(self.in_doubt),
                "rss_mb": {"start": round(self.rss_start_kb / 1024, 1), "after_warmup": round(self.rss_warm_kb / 1024, 1),
                           "end": round(self.rss_end_kb / 1024, 1)},
                "rss_growth_after_warmup": round(self.rss_growth, 4), "problems": self.problems[:20],
                **({"tenants": self.tenants, "leaks": len(self.leaks), "leak_examples": self.leaks[:5],
                    "foreign_probes": self.foreign_probes} if self.tenants > 1 else {}),
                "passed": self.passed}


async def _drive(url: str, sandbox, report: SoakReport, *, calls: int, clients: int, warmup: int, pid: int,
                 tenants: list[Tenant] | None = None) -> None:
    from mcp import Client, MCPError

    tenants = tenants or [Tenant("demo", sandbox.demo_user)]
    counter = iter(range(calls * 2))  # call slots; a client stops when the budget of calls is spent
    lock = anyio.Lock()
    own: dict[str, dict[str, str]] = {t.name: {} for t in tenants}  # each principal's invoice number -> id

    async def spend(force: bool) -> bool:
        async with lock:
            if report.calls >= calls and not force:
                return False
            report.calls += 1
            if report.calls == warmup:
                report.rss_warm_kb = rss_kb(pid)
            return True

    def check_leaks(tenant: Tenant, tool: str, result) -> None:
        if len(tenants) == 1:
            return
        text = json.dumps([c.model_dump(mode="json") for c in result.content], ensure_ascii=False)
        text += json.dumps(result.structured_content or {}, ensure_ascii=False)
        for other in tenants:
            if other is not tenant:
                for marker in other.markers():
                    if marker in text:
                        report.leaks.append(f"{tenant.name} saw {other.name}'s {marker!r} in {tool}")

    async def call(client, tenant: Tenant, tool: str, args: dict, *, retry: bool = False):
        # A retry of a submission in progress goes past the budget: its outcome must be known before the count.
        if not await spend(retry):
            return None
        report.by_tool[tool] += 1
        try:
            result = await client.call_tool(tool, args)
        except MCPError as exc:  # a protocol error: never acceptable for a tool call
            report.outcomes["protocol_error"] += 1
            report.problems.append(f"{tool}: protocol error {exc.error.code} {exc.error.message}")
            return None
        except Exception as exc:  # noqa: BLE001 - the soak reports everything it sees
            report.outcomes["exception"] += 1
            report.problems.append(f"{tool}: {type(exc).__name__}: {exc}")
            return None
        check_leaks(tenant, tool, result)
        if not result.is_error:
            report.outcomes["ok"] += 1
        elif is_clear_error(result):
            report.outcomes[f"error:{error_code(result)}"] += 1
        else:
            report.outcomes["unclear_error"] += 1
            report.problems.append(f"{tool}: unclear error {result.content[0].text[:300] if result.content else ''}")
        return result

    async def submit(client, tenant: Tenant, number: str) -> None:
        args = {"receivable": tenant.receivable(number)}
        for attempt in range(CALLER_ATTEMPTS):
            result = await call(client, tenant, "submit_receivable", args, retry=attempt > 0)
            if result is None:
                if attempt == 0:
                    return  # the budget was spent before this submission started
                continue
            if not result.is_error:
                out = result.structured_content
                if out["status"] != "done":
                    report.problems.append(f"submit {number}: status {out['status']}")
                    return
                rec_id = out["receivable"]["id"]
                if report.submitted.setdefault(number, rec_id) != rec_id:
                    report.problems.append(f"{number}: two receivable ids {report.submitted[number]} and {rec_id}")
                own[tenant.name].setdefault(number, rec_id)
                return
            if error_code(result) not in RETRYABLE:
                report.problems.append(f"submit {number}: {result.content[0].text[:300]}")
                return
        report.in_doubt.append(number)

    @asynccontextmanager
    async def connect(tenant: Tenant, mode: str):
        if tenant.token is None:
            async with Client(url, mode=mode, elicitation_callback=accept) as client:
                yield client
            return
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {tenant.token}"}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http), mode=mode,
                              elicitation_callback=accept) as client:
                yield client

    async def client_loop(k: int) -> None:
        mode = "auto" if k % 2 == 0 else "legacy"
        tenant = tenants[(k // 2) % len(tenants)]  # each principal has clients of both eras
        others = [t for t in tenants if t is not tenant]
        user = tenant.user_id
        mine = own[tenant.name]
        async with connect(tenant, mode) as client:
            while report.calls < calls:
                i = next(counter)
                kind = i % 8
                if kind in (0, 4):
                    await submit(client, tenant, f"{tenant.prefix}{k}-{i:06d}")
                elif kind == 6 and mine:
                    number, rec_id = next(iter(mine.items()))  # a repeat of a done submission
                    result = await call(client, tenant, "submit_receivable", {"receivable": tenant.receivable(number)})
                    if result is not None and not result.is_error:
                        if result.structured_content["receivable"]["id"] == rec_id:
                            report.replays_ok += 1
                        else:
                            report.problems.append(f"repeat of {number} answered another receivable")
                elif kind == 1 and mine:
                    await call(client, tenant, "get_receivable", {"receivable_id": next(iter(mine.values()))})
                elif kind == 7 and others and own[others[0].name] and i % 16 == 15:
                    # Another principal's receivable: exactly what an id that does not exist gets.
                    report.foreign_probes += 1
                    theirs = next(iter(own[others[0].name].values()))
                    result = await call(client, tenant, "get_receivable", {"receivable_id": theirs})
                    if result is not None and error_code(result) not in {"NOT_FOUND", *RETRYABLE}:
                        report.leaks.append(f"{tenant.name} got {error_code(result) or 'a receivable'} for "
                                            f"{others[0].name}'s {theirs}")
                elif kind == 7:
                    result = await call(client, tenant, "get_receivable", {"receivable_id": "rec_doesnotexist00"})
                    if result is not None and not result.is_error:
                        report.problems.append("a receivable that does not exist was found")
                elif kind == 2:
                    await call(client, tenant, "list_receivables",
                               {"limit": 5} if len(tenants) > 1 and i % 16 == 2 else {"user_id": user, "limit": 5})
                elif kind == 5:
                    await call(client, tenant, "get_user_status", {"user_id": user})
                else:
                    await call(client, tenant, "quote_commission", {"amount": "5000.00", "days_overdue": 60 + i % 400})

    async with anyio.create_task_group() as tg:
        for k in range(clients):
            tg.start_soon(client_loop, k)


def second_creditor(sandbox) -> str:
    """An onboarded creditor besides the demo one, created on the sandbox as the platform would."""
    import httpx2

    headers = {**sandbox.admin_headers, "Idempotency-Key": "soak-second-creditor"}
    user = httpx2.post(f"{sandbox.url}/v1/users", headers=headers, timeout=30, json={
        "email": "finance@second-creditor.example", "company": {"name": "Second Creditor SAS"}}).json()
    httpx2.post(f"{sandbox.url}/sandbox/users/{user['id']}/complete-onboarding", json={"status": "active"},
                headers=sandbox.admin_headers, timeout=30).raise_for_status()
    return user["id"]


def tenants_for(sandbox, workdir: Path) -> tuple[list[Tenant], Path]:
    """Two principals, each for a creditor of its own, and the principals file naming them (token hashes only)."""
    import secrets

    tenants = [Tenant("a", sandbox.demo_user, secrets.token_urlsafe(24), "Alpha Debtor SARL", "1234.56"),
               Tenant("b", second_creditor(sandbox), secrets.token_urlsafe(24), "Bravo Debtor SAS", "6543.21")]
    path = workdir / "principals.toml"
    path.write_text("".join(
        f'[[principals]]\nname = "soak-{t.name}"\ntoken_sha256 = "{hashlib.sha256(t.token.encode()).hexdigest()}"\n'
        f'user_ids = ["{t.user_id}"]\n\n' for t in tenants))
    return tenants, path


def run_soak(calls: int = 10_000, clients: int = 8, *, workdir: Path | None = None, faults: dict | None = None,
             seed: int = 20261121, tenants: int = 1) -> SoakReport:
    report = SoakReport(tenants=tenants)
    with tempfile.TemporaryDirectory(prefix="cleavr-soak-") as tmp:
        work = workdir or Path(tmp)
        with sandbox_process(work) as sandbox:
            port = free_port()
            principals: list[Tenant] | None = None
            extra = {}
            if tenants > 1:
                principals, path = tenants_for(sandbox, work)
                extra["CLEAVR_MCP_PRINCIPALS_FILE"] = str(path)
            env = sandbox.server_env(work / "server-data", **extra)
            cmd = [*CLI, "serve", "--transport", "http", "--port", str(port)]
            with process(cmd, env, work / "server.log") as server:
                wait_http(f"http://127.0.0.1:{port}/healthz", server)
                report.rss_start_kb = rss_kb(server.pid)
                before = sandbox.receivable_count()
                sandbox.set_faults(fault_seed=seed, **(FAULTS_20 if faults is None else faults))
                started = time.perf_counter()
                warmup = max(1, min(calls // 10, 1000))
                anyio.run(lambda: _drive(f"http://127.0.0.1:{port}/mcp", sandbox, report, calls=calls,
                                         clients=clients, warmup=warmup, pid=server.pid, tenants=principals))
                report.seconds = time.perf_counter() - started
                report.rss_end_kb = rss_kb(server.pid)
                sandbox.set_faults()
                report.sandbox_created = sandbox.receivable_count() - before
                if server.poll() is not None:
                    report.problems.append(f"the server exited with {server.returncode}")
            log = (work / "server.log").read_text(errors="replace")
            if "Traceback" in log:
                report.problems.append("the server logged a traceback: " + log[log.index("Traceback"):][:1500])
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tenants", type=int, choices=(1, 2), default=1,
                        help="2: two principals (principals file), each for its own creditor, checked for leaks")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args()
    report = run_soak(args.calls, args.clients, tenants=args.tenants)
    summary = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "clients": args.clients,
               "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                        cwd=Path(__file__).resolve().parents[1]).stdout.strip(),
               **report.summary()}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nsoak: {report.calls} calls from {args.clients} clients in {report.seconds:.0f} s; "
          f"{len(report.submitted)} invoices submitted, sandbox +{report.sandbox_created}; RSS "
          f"{report.rss_warm_kb / 1024:.0f} → {report.rss_end_kb / 1024:.0f} MB ({report.rss_growth:+.1%}); "
          + (f"{args.tenants} principals, {report.foreign_probes} foreign probes, {len(report.leaks)} leaks; "
             if args.tenants > 1 else "") + "→ "
          f"{'PASS' if report.passed else 'FAIL'}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
