"""Shared pieces of the benchmarks and the soak: a sandbox in its own process, server settings that point at it,
a human who says yes, receivable arguments, RSS of a process, and a caller that retries like a model would.

The sandbox runs as a separate process (`cleavr-mcp sandbox`) so that the server under test and its clients do not
share a GIL with it; faults are switched at runtime with `PUT /sandbox/faults`, counts come from `GET /sandbox/stats`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLI = [sys.executable, "-m", "cleavr_mcp.cli"]
# 20 % of API requests fail: 503 before any work, 429 + Retry-After, or committed then the connection dropped.
FAULTS_20 = {"fault_5xx_rate": 0.07, "fault_429_rate": 0.06, "fault_drop_rate": 0.07}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no CLEAVR_MCP_* from the caller, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEAVR_MCP_")}
    env.update(extra)
    return env


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def child_pids(parent: int | None = None) -> list[int]:
    parent = parent or os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx2.get(url, timeout=2).status_code < 500:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def process(cmd: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Sandbox:
    """A `cleavr-mcp sandbox` process: its URL, credentials and an admin token for faults and stats."""

    url: str
    db: Path
    client_id: str
    client_secret: str
    demo_user: str
    proc: subprocess.Popen
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def admin_headers(self) -> dict[str, str]:
        from cleavr_mcp.sandbox.testing import api_headers

        return api_headers(self.tokens["access_token"])

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        body = {"retry_after_seconds": 0, **faults} if faults else {}
        resp = httpx2.put(f"{self.url}/sandbox/faults", json=body, headers=self.admin_headers, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def stats(self) -> dict[str, Any]:
        resp = httpx2.get(f"{self.url}/sandbox/stats", headers=self.admin_headers, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def receivable_count(self) -> int:
        return self.stats()["receivables"]["total"]

    def server_env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """Environment for `cleavr-mcp serve` talking to this sandbox over HTTP with the real OAuth tokens."""
        return clean_env(
            CLEAVR_MCP_DATA_DIR=str(data_dir),
            CLEAVR_MCP_BASE_URL=self.url,
            CLEAVR_MCP_CLIENT_ID=self.client_id,
            CLEAVR_MCP_CLIENT_SECRET=self.client_secret,
            CLEAVR_MCP_REFRESH_TOKEN=self.tokens["refresh_token"],
            **extra,
        )

    def server_settings(self, data_dir: Path, **values: Any):
        from cleavr_mcp.config import Settings

        return Settings(_env_file=None, data_dir=data_dir, base_url=self.url, client_id=self.client_id,
                        client_secret=self.client_secret, refresh_token=self.tokens["refresh_token"], **values)


@contextmanager
def sandbox_process(workdir: Path, *, rate_limit_per_second: int = 100_000) -> Iterator[Sandbox]:
    """Serve the sandbox in its own process on a free port (seeded demo creditor, no faults until asked)."""
    from cleavr_mcp.sandbox.testing import demo_user_id, sandbox_access_token, sandbox_credentials

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "sandbox.sqlite3"
    port = free_port()
    env = clean_env(CLEAVR_MCP_DATA_DIR=str(workdir / "sandbox-data"),
                    CLEAVR_MCP_SANDBOX_RATE_LIMIT_PER_SECOND=str(rate_limit_per_second))
    with process([*CLI, "sandbox", "--port", str(port), "--db", str(db)], env, workdir / "sandbox.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", proc)
        client_id, client_secret = sandbox_credentials(db)
        sandbox = Sandbox(url, db, client_id, client_secret, demo_user_id(db), proc)

        async def token() -> dict[str, Any]:
            async with httpx2.AsyncClient(timeout=30) as http:
                return await sandbox_access_token(http, url, client_id, client_secret)

        import anyio

        with ThreadPoolExecutor(1) as pool:  # its own event loop: callers may be inside one already
            sandbox.tokens = pool.submit(anyio.run, token).result()
        yield sandbox


def receivable_args(user_id: str, number: str, *, amount: str = "1200.00", age_days: int = 60) -> dict[str, Any]:
    """A complete, valid `submit_receivable` receivable (email and phone present: only the confirmation is asked)."""
    issue = date.today() - timedelta(days=age_days)
    before = f"{float(amount) / 1.2:.2f}"
    return {
        "user_id": user_id,
        "invoice": {"numbers": [number], "issue_date": issue.isoformat(),
                    "due_date": (issue + timedelta(days=30)).isoformat(), "service_description": "Consulting services",
                    "amount": amount, "amount_before_tax": before, "tax_amount": f"{float(amount) - float(before):.2f}",
                    "currency": "EUR"},
        "debtor": {"company_name": "Debtor Corp", "company_type": "company", "siret": "73282932000074",
                   "address": {"line1": "456 Avenue des Champs", "city": "Lyon", "postal_code": "69000",
                               "country": "FR"},
                   "contacts": [{"first_name": "Marie", "last_name": "Martin", "email": "marie.martin@debtor.example",
                                 "phone": "+33612345678", "level": 0}]},
        "metadata": {"platform_invoice_id": f"plat_{number}"},
    }


async def accept(context, params):
    """A human who ticks every box: confirm, proceed without phone."""
    from mcp.types import ElicitResult

    props = (params.requested_schema or {}).get("properties", {})
    return ElicitResult(action="accept", content={name: True for name, p in props.items() if p.get("type") == "boolean"})


def error_code(result) -> str | None:
    """The error code of an isError result ("Error CODE: message" is the first line of every tool error)."""
    if not result.is_error:
        return None
    text = result.content[0].text if result.content else ""
    first = text.split("\n", 1)[0]
    if first.startswith("Error ") and ":" in first:
        return first[6:first.index(":")]
    return "UNSTRUCTURED"


def is_clear_error(result) -> bool:
    """An isError result a model can act on: a code, a message, a next step, and no stack trace."""
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    return (error_code(result) not in (None, "UNSTRUCTURED") and "Next step:" in text and "Traceback" not in text
            and 'File "' not in text)


# Error codes whose next step says calling again with the same arguments is safe (what a model would do).
RETRYABLE = {"SERVICE_UNAVAILABLE", "RATE_LIMITED", "TRANSPORT_ERROR", "OUTCOME_UNKNOWN", "INTERNAL_ERROR", "TIMEOUT"}
