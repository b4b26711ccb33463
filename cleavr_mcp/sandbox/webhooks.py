"""Webhook delivery from the outbox: signed POSTs, retried with exponential backoff (contract §6).

Each event is stored once with its exact body; each subscribed endpoint has a delivery row (attempts, next attempt,
last answer). A pass sends every due delivery: 2xx marks it delivered; anything else (or a timeout) schedules the
next attempt `retry_base * 3.15**(attempt-1)` seconds later (60 s base: 8 attempts over ~24 h), and the 8th failure
marks it failed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import time
from typing import Any

import httpx2

from ..cleavr.contract import SIGNATURE_HEADER, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_TIMEOUT_SECONDS
from .store import Store, iso, utcnow

log = logging.getLogger(__name__)
BACKOFF_FACTOR = 3.15
USER_AGENT = "Cleavr-Sandbox-Webhooks/1.0"


@functools.cache
def _tls_context():
    # Building the trust store is the slow part of a new client (~60 ms); one context serves every pass.
    return httpx2.create_ssl_context()


def delivery_client() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(follow_redirects=False, verify=_tls_context())


def sign(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body [doc]."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int, base_seconds: float) -> float:
    """Delay after the `attempts`-th failed attempt."""
    return base_seconds * BACKOFF_FACTOR ** (attempts - 1)


async def deliver_pending(
    store: Store,
    http: httpx2.AsyncClient,
    *,
    retry_base_seconds: float = 60.0,
    force: bool = False,
    limit: int = 100,
) -> dict[str, int]:
    """One delivery pass. `force` ignores the backoff schedule (sends every pending delivery now)."""
    now = time.time()
    with store.read() as db:
        rows = db.execute(
            "SELECT d.event_id, d.webhook_id, d.attempts, e.body, w.url, w.secret "
            "FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id "
            "WHERE d.status = 'pending' AND w.deleted = 0 AND (? OR d.next_attempt_at <= ?) "
            "ORDER BY e.seq LIMIT ?",
            (1 if force else 0, now, limit),
        ).fetchall()
    counts = {"attempted": 0, "delivered": 0, "retrying": 0, "failed": 0}
    for row in rows:
        body = bytes(row["body"])
        counts["attempted"] += 1
        status: int | None = None
        error: str | None = None
        try:
            response = await http.post(
                row["url"],
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(row["secret"], body),
                    "User-Agent": USER_AGENT,
                },
                timeout=WEBHOOK_TIMEOUT_SECONDS,
            )
            status = response.status_code
        except httpx2.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = row["attempts"] + 1
        with store.write() as db:
            if status is not None and 200 <= status < 300:
                counts["delivered"] += 1
                db.execute(
                    "UPDATE deliveries SET status = 'delivered', attempts = ?, last_status = ?, last_error = NULL, "
                    "delivered_at = ? WHERE event_id = ? AND webhook_id = ?",
                    (attempts, status, iso(utcnow()), row["event_id"], row["webhook_id"]),
                )
                continue
            if error is None:
                error = f"HTTP {status}"
            final = attempts >= WEBHOOK_MAX_ATTEMPTS
            counts["failed" if final else "retrying"] += 1
            db.execute(
                "UPDATE deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ? "
                "WHERE event_id = ? AND webhook_id = ?",
                (
                    "failed" if final else "pending",
                    attempts,
                    status,
                    error,
                    time.time() + retry_delay(attempts, retry_base_seconds),
                    row["event_id"],
                    row["webhook_id"],
                ),
            )
    return counts


def next_due(store: Store) -> float | None:
    with store.read() as db:
        row = db.execute(
            "SELECT MIN(d.next_attempt_at) AS due FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id "
            "WHERE d.status = 'pending' AND w.deleted = 0"
        ).fetchone()
    return row["due"] if row and row["due"] is not None else None


async def delivery_loop(state: Any) -> None:
    """Background worker of a sandbox with webhook delivery on: wakes on new events or when a retry is due."""
    async with delivery_client() as http:
        while True:
            try:
                async with state.get_delivery_lock():
                    await deliver_pending(state.store, http, retry_base_seconds=state.config.webhook_retry_base_seconds)
                due = next_due(state.store)
                wait = 30.0 if due is None else min(30.0, max(0.05, due - time.time()))
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the worker alive; the next pass retries
                log.exception("webhook delivery pass failed")
                wait = 5.0
            await state.wait_for_work(wait)
