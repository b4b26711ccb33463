"""Per-call cost of `CleavrClient.get_receivable` against a bare httpx2 GET of the same URL with the same headers.

Both run against the same in-process sandbox (httpx2.ASGITransport, no sockets), interleaved call by call (the order
alternates each round) so that drift in the machine's speed hits both equally. The client's extra work is: the
token lookup, header building, retry bookkeeping, logging checks, JSON parsing into Decimal (wire.loads) and
validation into the `Receivable` model. Target: median ratio <= 1.3.

    .venv/bin/python benchmarks/client_overhead.py [--iterations 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cleavr_mcp.cleavr import CleavrClient, TokenManager, TokenStore, authorize_with_code_flow  # noqa: E402
from cleavr_mcp.cleavr.contract import ALL_SCOPES, Paths  # noqa: E402
from cleavr_mcp.cleavr.models import ReceivableCreate  # noqa: E402
from cleavr_mcp.sandbox import SandboxConfig, create_app  # noqa: E402
from cleavr_mcp.sandbox.testing import demo_user_id, sandbox_credentials  # noqa: E402

HOST = "http://sandbox.local"


def sample_receivable(user_id: str) -> ReceivableCreate:
    return ReceivableCreate.model_validate({
        "user_id": user_id,
        "invoice": {"numbers": ["BENCH-001", "BENCH-002"], "issue_date": "2025-08-01", "due_date": "2025-08-31",
                    "service_description": "Consulting services for Q3 2025", "amount": "5000.00",
                    "amount_before_tax": "4166.67", "tax_amount": "833.33", "currency": "EUR",
                    "payment_terms": "Net 30", "late_penalty_rate": "10.0"},
        "debtor": {"company_name": "Debtor Corp", "siret": "73282932000074", "vat_number": "FR44732829320",
                   "address": {"line1": "456 Avenue des Champs", "line2": "Building B", "city": "Lyon",
                               "postal_code": "69000", "country": "FR"},
                   "contacts": [{"first_name": "Marie", "last_name": "Martin", "email": "marie@debtor.example",
                                 "phone": "+33612345678", "job_title": "CFO", "level": 0},
                                {"first_name": "Pierre", "last_name": "Dubois", "email": "pierre@debtor.example",
                                 "phone": "+33698765432", "job_title": "Accounting Manager", "level": 1}]},
        "metadata": {"platform_invoice_id": "plat_inv_123", "customer_id": "cust_456"},
    })


async def run(iterations: int, warmup: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite3"
        app = create_app(SandboxConfig(db_path=db, rate_limit_per_second=100_000))
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=HOST) as http:
            client_id, client_secret = sandbox_credentials(db)
            token = await authorize_with_code_flow(http, HOST, client_id, client_secret, list(ALL_SCOPES))
            store = TokenStore(Path(tmp) / "tokens.json")
            store.save(token)
            auth = TokenManager(http, HOST + Paths.TOKEN, client_id, client_secret, store)
            client = CleavrClient(http, base_url=HOST, auth=auth)
            rec = (await client.submit_receivable(sample_receivable(demo_user_id(db)))).value

            url = HOST + Paths.RECEIVABLE.format(receivable_id=rec.id)
            headers = {**client._base_headers, "Authorization": f"Bearer {await auth.access_token()}"}

            async def via_client() -> None:
                await client.get_receivable(rec.id)

            async def bare_get() -> None:
                response = await http.get(url, headers=headers)
                assert response.status_code == 200

            async def bare_get_json() -> None:
                response = await http.get(url, headers=headers)
                assert response.status_code == 200
                response.json()

            contenders = {"client": via_client, "bare": bare_get, "bare_json": bare_get_json}
            timings: dict[str, list[float]] = {name: [] for name in contenders}
            names = list(contenders)
            gc.collect()
            for i in range(warmup + iterations):
                order = names if i % 2 == 0 else names[::-1]
                for name in order:
                    t0 = time.perf_counter_ns()
                    await contenders[name]()
                    elapsed = time.perf_counter_ns() - t0
                    if i >= warmup:
                        timings[name].append(elapsed / 1000)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    medians = asyncio.run(run(args.iterations, args.warmup))
    ratio = medians["client"] / medians["bare"]
    print(f"iterations: {args.iterations} (interleaved, after {args.warmup} warm-up rounds)")
    print(f"median client.get_receivable : {medians['client']:8.1f} us")
    print(f"median bare httpx2 GET       : {medians['bare']:8.1f} us")
    print(f"median bare GET + .json()    : {medians['bare_json']:8.1f} us")
    print(f"client overhead per call     : {medians['client'] - medians['bare']:8.1f} us")
    print(f"ratio client / bare GET      : {ratio:.3f}x (target <= 1.3x)")
    print(f"ratio client / bare GET+json : {medians['client'] / medians['bare_json']:.3f}x")


if __name__ == "__main__":
    main()
