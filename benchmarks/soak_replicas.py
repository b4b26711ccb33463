"""Replica soak: 3 `serve --transport http` replicas share one PostgreSQL and one standalone sandbox (20 % faults).

    .venv/bin/python benchmarks/soak_replicas.py [--calls 5000] [--clients 8]     # make soak-replicas

- 8 clients (half on protocol 2026-07-28, half on the 2025-11-25 handshake, replicas in stateless HTTP mode) send
  every HTTP request to a random replica, as a load balancer would (a refused connection goes to another one, as
  a health-checked balancer does). 2025-era clients cannot be asked through a back-channel in stateless mode, so
  they confirm with the token flow: the token minted on one replica is redeemed on another.
- Acting as Cleavr, the soak posts signed webhooks, each twice, at once, to two random replicas.
- A listen subscriber on each replica subscribes to the receivables those webhooks name.
- The sandbox's access tokens live 6 s, so the replicas refresh (and rotate the refresh token) all the time.
- Halfway, one replica is killed with SIGKILL and restarted.

PASS when: every call ended in a success or a clear error (transport failures only while a replica was down, and
then the submission was repeated); 0 duplicates and 0 lost (the sandbox grew by exactly the distinct invoices the
clients were told were submitted, none left in doubt); every confirmation token was accepted at most once; every
webhook event is stored once (and one of its two deliveries was told "duplicate"); every subscriber heard of every
webhook posted while it was connected; no replica ever saw a refused refresh (a rotated token used twice).
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    sandbox_process,
    wait_http,
)

REPLICAS = 3
WEBHOOK_SECRET = "whsec_soak_replicas_" + "0" * 16
CONFIRMATION_KEY = "soak-replicas-shared-confirmation-key-0123456789"
CALLER_ATTEMPTS = 8
TOKEN_TTL_SECONDS = 6


@dataclass
class Report:
    calls: int = 0
    outcomes: Counter = field(default_factory=Counter)
    submitted: dict[str, str] = field(default_factory=dict)
    in_doubt: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tokens_done: Counter = field(default_factory=Counter)
    token_confirmations: int = 0
    transport_failures_during_kill: int = 0
    repeated_after_kill: int = 0
    webhooks_posted: int = 0
    webhook_answers: Counter = field(default_factory=Counter)
    events_stored: int = 0
    subscribers: dict[str, dict] = field(default_factory=dict)
    sandbox_created: int = 0
    refresh_refusals: int = 0
    killed_at_call: int | None = None
    seconds: float = 0.0
    requests_by_replica: Counter = field(default_factory=Counter)

    @property
    def passed(self) -> bool:
        return (not self.problems and not self.in_doubt and self.sandbox_created == len(self.submitted)
                and max(self.tokens_done.values(), default=1) == 1 and self.events_stored == self.webhooks_posted
                and self.webhook_answers["new"] == self.webhooks_posted
                and all(s["missed"] == 0 for s in self.subscribers.values()) and self.refresh_refusals == 0)

    def summary(self) -> dict:
        return {"calls": self.calls, "seconds": round(self.seconds, 1),
                "calls_per_second": round(self.calls / self.seconds, 1) if self.seconds else None,
                "outcomes": dict(self.outcomes.most_common()), "requests_by_replica": dict(self.requests_by_replica),
                "distinct_invoices_submitted": len(self.submitted), "sandbox_receivables_created": self.sandbox_created,
                "duplicates": max(0, self.sandbox_created - len(self.submitted)),
                "lost": max(0, len(self.submitted) - self.sandbox_created) + len(self.in_doubt),
                "confirmation_tokens_redeemed": self.token_confirmations,
                "tokens_accepted_more_than_once": sum(1 for n in self.tokens_done.values() if n > 1),
                "killed_replica_at_call": self.killed_at_call,
                "transport_failures_while_a_replica_was_down": self.transport_failures_during_kill,
                "submissions_repeated_after_the_kill": self.repeated_after_kill,
                "webhooks_posted_twice": self.webhooks_posted, "webhook_answers": dict(self.webhook_answers),
                "events_stored": self.events_stored, "subscribers": self.subscribers,
                "refused_refreshes": self.refresh_refusals, "problems": self.problems[:20], "passed": self.passed}


class Balancer(httpx2.AsyncBaseTransport):
    """Each request to a random live replica; a refused connection is sent to another (a health-checked LB)."""

    def __init__(self, ports: list[int], report: Report) -> None:
        self.ports = ports
        self.report = report
        self.inner = httpx2.AsyncHTTPTransport()
        self.rng = random.Random()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        order = self.rng.sample(range(len(self.ports)), len(self.ports))
        for n, index in enumerate(order):
            request.url = request.url.copy_with(port=self.ports[index])
            request.headers["host"] = f"127.0.0.1:{self.ports[index]}"
            try:
                response = await self.inner.handle_async_request(request)
            except httpx2.ConnectError:
                if n == len(order) - 1:
                    raise
                continue
            self.report.requests_by_replica[index] += 1
            return response
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.inner.aclose()


def _client(url: str, transport: httpx2.AsyncBaseTransport | None, **kwargs):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(transport=transport, timeout=60.0)
    return http, Client(streamable_http_client(url, http_client=http), **kwargs)


class Cluster:
    """The replicas: processes on fixed ports (a restart reuses its port), all on one PostgreSQL."""

    def __init__(self, work: Path, sandbox, database_url: str) -> None:
        self.work = work
        self.sandbox = sandbox
        self.database_url = database_url
        self.ports = [free_port() for _ in range(REPLICAS)]
        self.procs: list[subprocess.Popen | None] = [None] * REPLICAS
        self.stack = ExitStack()
        self.down_since: float | None = None
        self.up_again: float | None = None

    def start(self, i: int) -> None:
        env = self.sandbox.server_env(
            self.work / f"replica-{i}", CLEAVR_MCP_DATABASE_URL=self.database_url,
            CLEAVR_MCP_CONFIRMATION_KEY=CONFIRMATION_KEY, CLEAVR_MCP_WEBHOOK_SECRET=WEBHOOK_SECRET,
            CLEAVR_MCP_STATELESS_HTTP="true", CLEAVR_MCP_POLL_INTERVAL_SECONDS="3",
            CLEAVR_MCP_CONFIRM_CHANNEL="model-token")  # 2025-era clients (no back-channel) confirm by token
        cmd = [*CLI, "serve", "--transport", "http", "--port", str(self.ports[i])]
        log = self.work / f"replica-{i}.{int(time.time() * 1000)}.log"
        self.procs[i] = self.stack.enter_context(process(cmd, env, log))
        wait_http(f"http://127.0.0.1:{self.ports[i]}/healthz", self.procs[i])

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.kill()  # SIGKILL: in-flight requests, transactions and the advisory lock die with it
        proc.wait()
        self.down_since = time.monotonic()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.work.glob("replica-*.log")))


async def _drive(cluster: Cluster, report: Report, *, calls: int, clients: int) -> None:
    from mcp.types import ResourceUpdatedNotification  # noqa: F401 - listen yields ResourceUpdated

    from cleavr_mcp.cleavr import wire
    from cleavr_mcp.cleavr.webhooks import sign
    from cleavr_mcp.events.hub import receivable_uri

    user = cluster.sandbox.demo_user
    n_webhooks = max(6, calls // 50)
    webhook_rids = [f"rec_soakwh{i:05d}" for i in range(n_webhooks)]
    posted_at: dict[str, float] = {}
    lock = anyio.Lock()
    counter = iter(range(calls * 4))
    kill_at = calls // 2
    restart_done = anyio.Event()

    def in_kill_window() -> bool:
        if cluster.down_since is None:
            return False
        return cluster.up_again is None or time.monotonic() - cluster.up_again < 10

    async def spend(force: bool) -> bool:
        async with lock:
            if report.calls >= calls and not force:
                return False
            report.calls += 1
            if report.calls == kill_at and report.killed_at_call is None:
                report.killed_at_call = report.calls
                victim = REPLICAS - 1
                cluster.kill(victim)

                async def restart() -> None:
                    await anyio.sleep(2.0)
                    await anyio.to_thread.run_sync(cluster.start, victim)
                    cluster.up_again = time.monotonic()
                    restart_done.set()

                tg.start_soon(restart)
            return True

    async def call(client, tool: str, args: dict, *, retry: bool = False):
        if not await spend(retry):
            return None
        try:
            result = await client.call_tool(tool, args)
        except Exception as exc:  # noqa: BLE001 - counted; only acceptable while a replica is down
            if in_kill_window():
                report.transport_failures_during_kill += 1
                return "lost-in-flight"
            report.outcomes["exception"] += 1
            report.problems.append(f"{tool}: {type(exc).__name__}: {str(exc)[:200]}")
            return None
        if not result.is_error:
            report.outcomes["ok"] += 1
        elif is_clear_error(result):
            code = error_code(result)
            report.outcomes[f"error:{code}"] += 1
            if code in {"UNAUTHORIZED", "AUTH_ERROR", "AUTHENTICATION_FAILED"}:
                report.refresh_refusals += 1
        else:
            report.outcomes["unclear_error"] += 1
            report.problems.append(f"{tool}: unclear error {result.content[0].text[:300] if result.content else ''}")
        return result

    async def submit(client, number: str) -> None:
        args: dict = {"receivable": receivable_args(user, number)}
        token = None
        lost_once = False
        for attempt in range(CALLER_ATTEMPTS):
            result = await call(client, "submit_receivable", {**args, **({"confirmation_token": token} if token else {})},
                                retry=attempt > 0)
            if result is None:
                if attempt == 0:
                    return
                continue
            if result == "lost-in-flight":  # unknown outcome: safe to repeat (the write is idempotent)
                lost_once = True
                continue
            if not result.is_error:
                out = result.structured_content
                if out["status"] == "confirmation_required":
                    token = out["confirmation"]["confirmation_token"]
                    continue
                if out["status"] != "done":
                    report.problems.append(f"submit {number}: status {out['status']}")
                    return
                if token:
                    report.tokens_done[token] += 1
                    report.token_confirmations += 1
                rec_id = out["receivable"]["id"]
                if report.submitted.setdefault(number, rec_id) != rec_id:
                    report.problems.append(f"{number}: two receivable ids {report.submitted[number]} and {rec_id}")
                if lost_once:
                    report.repeated_after_kill += 1
                return
            code = error_code(result)
            if code == "CONFIRMATION_INVALID":
                token = None  # spent by the attempt that was lost in flight: ask again
                continue
            if code not in RETRYABLE:
                report.problems.append(f"submit {number}: {result.content[0].text[:300]}")
                return
        report.in_doubt.append(number)

    async def post_webhook(http: httpx2.AsyncClient, i: int) -> None:
        rid = webhook_rids[i]
        body = {"id": f"evt_soakwh{i:05d}", "type": "receivable.partial_payment",
                "created_at": datetime.now(UTC).isoformat(),
                "data": {"receivable_id": rid, "original_amount": "100.00", "paid_amount": "40.00",
                         "remaining_amount": "60.00", "action_required": "platform_decision"}}
        raw = wire.dumps(body)
        headers = {"Content-Type": "application/json", "Cleavr-Signature": sign(WEBHOOK_SECRET, raw)}
        answers: list[dict] = []
        posted_at[rid] = time.monotonic()

        async def deliver(port: int) -> None:
            for _ in range(20):  # Cleavr retries a delivery that got no answer
                try:
                    resp = await http.post(f"http://127.0.0.1:{port}/webhooks/cleavr", content=raw, headers=headers)
                except httpx2.HTTPError:
                    port = random.choice(cluster.ports)
                    await anyio.sleep(0.2)
                    continue
                if resp.status_code == 200:
                    answers.append(resp.json())
                    return
                await anyio.sleep(0.2)
            report.problems.append(f"webhook {body['id']} never accepted")

        async with anyio.create_task_group() as both:
            for port in random.sample(cluster.ports, 2):
                both.start_soon(deliver, port)
        report.webhooks_posted += 1
        report.webhook_answers["new" if any(not a["duplicate"] for a in answers) else "all_duplicates"] += 0
        report.webhook_answers["new"] += sum(1 for a in answers if not a["duplicate"])
        report.webhook_answers["duplicate"] += sum(1 for a in answers if a["duplicate"])

    async def webhook_loop() -> None:
        async with httpx2.AsyncClient(timeout=30) as http:
            for i in range(n_webhooks):
                while report.calls < (i + 1) * calls // (n_webhooks + 1) and report.calls < calls:
                    await anyio.sleep(0.05)
                await post_webhook(http, i)

    async def subscriber(index: int, name: str, started: anyio.Event) -> None:
        uris = [receivable_uri(r) for r in webhook_rids]
        http, client = _client(f"http://127.0.0.1:{cluster.ports[index]}/mcp", None)
        state = report.subscribers.setdefault(name, {"replica": index, "heard": 0, "missed": 0})
        heard: dict[str, float] = {}
        state["_heard"] = heard
        state["_since"] = time.monotonic()
        async with http, client, client.listen(resource_subscriptions=uris) as sub:
            started.set()
            async for update in sub:
                heard.setdefault(str(update.uri), time.monotonic())

    async def client_loop(k: int) -> None:
        mode = "auto" if k % 2 == 0 else "legacy"
        current: list[str] = []  # the submission in progress: repeated after a lost connection
        while report.calls < calls:
            balancer = Balancer(cluster.ports, report)
            http, client = _client(f"http://127.0.0.1:{cluster.ports[0]}/mcp", balancer, mode=mode,
                                   elicitation_callback=accept)
            try:
                async with http, client:
                    while report.calls < calls or current:
                        if current:  # outcome unknown: the same call again (idempotent)
                            report.repeated_after_kill += 1
                            await submit(client, current[0])
                            current.clear()
                            continue
                        i = next(counter)
                        kind = i % 6
                        if kind in (0, 3):
                            current.append(f"SOAKR-{k}-{i:06d}")
                            await submit(client, current[0])
                            current.clear()
                        elif kind == 1 and report.submitted:
                            await call(client, "get_receivable",
                                       {"receivable_id": next(iter(report.submitted.values()))})
                        elif kind == 2:
                            await call(client, "list_events", {"limit": 5})
                        elif kind == 4:
                            await call(client, "get_user_status", {"user_id": user})
                        else:
                            await call(client, "quote_commission", {"amount": "5000.00", "days_overdue": 60 + i % 400})
                return
            except Exception as exc:  # noqa: BLE001 - the SDK client dies when its replica is killed mid-request
                if not in_kill_window():
                    report.problems.append(f"client {k}: {type(exc).__name__}: {str(exc)[:200]}")
                    return
                report.transport_failures_during_kill += 1  # a new connection, as an application would

    async with anyio.create_task_group() as tg:
        subs_ready = [anyio.Event() for _ in range(REPLICAS)]
        sub_scope = anyio.CancelScope()

        async def subscribers() -> None:
            with sub_scope:
                async with anyio.create_task_group() as stg:
                    for r in range(REPLICAS - 1):  # the survivors' subscribers, from the start
                        stg.start_soon(subscriber, r, f"replica-{r}", subs_ready[r])
                    await restart_done.wait()
                    stg.start_soon(subscriber, REPLICAS - 1, f"replica-{REPLICAS - 1}-after-restart",
                                   subs_ready[REPLICAS - 1])
                    await anyio.sleep_forever()

        tg.start_soon(subscribers)
        with anyio.fail_after(30):
            for r in range(REPLICAS - 1):
                await subs_ready[r].wait()
        async with anyio.create_task_group() as work:
            work.start_soon(webhook_loop)
            for k in range(clients):
                work.start_soon(client_loop, k)
        await anyio.sleep(3)  # the last notifications on their way
        sub_scope.cancel()
    for state in report.subscribers.values():
        heard, since = state.pop("_heard"), state.pop("_since")
        expected = [receivable_uri(r) for r, at in posted_at.items() if at >= since]
        state["expected"] = len(expected)
        state["heard"] = sum(1 for uri in expected if uri in heard)
        state["missed"] = len(expected) - state["heard"]


def run(calls: int, clients: int, *, seed: int = 20261201) -> Report:
    from tests.deps import postgres_bindir
    from tests.pg import throwaway_cluster

    report = Report()
    with tempfile.TemporaryDirectory(prefix="cleavr-soak-replicas-") as tmp, \
            throwaway_cluster(postgres_bindir()) as pg:
        work = Path(tmp)
        url = pg.new_database("soak")
        with sandbox_process(work) as sandbox:
            resp = httpx2.put(f"{sandbox.url}/sandbox/tokens/settings", headers=sandbox.admin_headers,
                              json={"access_token_ttl_seconds": TOKEN_TTL_SECONDS}, timeout=10)
            resp.raise_for_status()
            cluster = Cluster(work, sandbox, url)
            with cluster.stack:
                for i in range(REPLICAS):
                    cluster.start(i)
                before = sandbox.receivable_count()
                sandbox.set_faults(fault_seed=seed, **FAULTS_20)
                started = time.perf_counter()
                anyio.run(lambda: _drive(cluster, report, calls=calls, clients=clients))
                report.seconds = time.perf_counter() - started
                sandbox.set_faults()
                report.sandbox_created = sandbox.receivable_count() - before
                for i, proc in enumerate(cluster.procs):
                    if proc is not None and proc.poll() is not None:
                        report.problems.append(f"replica {i} exited with {proc.returncode}")
                import psycopg

                with psycopg.connect(url) as conn:
                    report.events_stored = conn.execute(
                        "SELECT COUNT(*) FROM events WHERE id LIKE 'evt_soakwh%'").fetchone()[0]
                    spent = conn.execute("SELECT COUNT(*) FROM spent_confirmations").fetchone()[0]
                if spent < report.token_confirmations:
                    report.problems.append(f"{report.token_confirmations} token confirmations but {spent} spent")
            logs = cluster.logs()
            if "Traceback" in logs:
                report.problems.append("a replica logged a traceback: " + logs[logs.index("Traceback"):][:1500])
            report.refresh_refusals += logs.count("refresh token is invalid or was already used")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args()
    report = run(args.calls, args.clients)
    summary = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "replicas": REPLICAS,
               "clients": args.clients, "commit": subprocess.run(
                   ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                   cwd=Path(__file__).resolve().parents[1]).stdout.strip(), **report.summary()}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nsoak-replicas: {report.calls} calls, {REPLICAS} replicas (one SIGKILLed at call {report.killed_at_call}), "
          f"{len(report.submitted)} invoices, sandbox +{report.sandbox_created}, {report.webhooks_posted} webhooks x2 "
          f"-> {report.events_stored} stored, in {report.seconds:.0f} s -> {'PASS' if report.passed else 'FAIL'}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    secrets.token_hex(1)
    sys.exit(main())
