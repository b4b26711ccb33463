"""Command-line bits of live events, registered from here so `cli.py` stays one call per feature:

    cleavr-mcp webhooks register --url https://host/webhooks/cleavr   (stores the returned secret, 0600)
    cleavr-mcp webhooks list | delete <wh_id>
    cleavr-mcp serve --webhook-port 8787 [--webhook-host 127.0.0.1] [--no-poll] [--poll-interval 60]

Only argparse at import time: `--help` must not load the server stack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from ..cleavr.client import CleavrClient
    from ..config import Settings
    from .endpoints import StoredEndpoint

    # Opens what the commands talk to Cleavr through: something with a `client` (the server's state).
    OpenState = Callable[[Settings], AbstractAsyncContextManager[Any]]

DEFAULT_EVENTS = ("receivable.*", "payment.*", "user.*")
RECEIVER_PATH = "/webhooks/cleavr"  # same as receiver.WEBHOOK_PATH (not imported: keeps --help light)

# `serve` flag (argparse dest) → Settings field, merged into server.main.SERVE_OVERRIDES.
SERVE_OVERRIDES = {
    "webhook_port": "webhook_port",
    "webhook_host": "webhook_host",
    "poll_events": "poll_events",
    "poll_interval": "poll_interval_seconds",
}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("live events")
    group.add_argument("--webhook-port", type=int, default=None, metavar="N",
                       help=f"also receive Cleavr webhooks on this port (POST {RECEIVER_PATH}); for stdio")
    group.add_argument("--webhook-host", default=None, help="bind address of that listener (default 127.0.0.1)")
    group.add_argument("--no-poll", dest="poll_events", action="store_false", default=None,
                       help="do not poll receivables for status changes (when webhooks reach the server)")
    group.add_argument("--poll-interval", type=float, default=None, metavar="SECONDS",
                       help="seconds between two polls (default 60)")


def add_webhooks_parser(sub: Any, open_state: OpenState) -> None:
    """`open_state(settings)`: what the commands reach Cleavr through (the entry point passes the server state's
    opener, imported only when a command runs)."""
    webhooks = sub.add_parser("webhooks", help="register this server's webhook endpoint with Cleavr; list, delete")
    webhooks.set_defaults(open_state=open_state)
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    register = actions.add_parser("register", help="register an endpoint and store its signing secret (0600)")
    register.add_argument("--url", required=True,
                          help=f"where Cleavr delivers: the HTTP server's or the listener's {RECEIVER_PATH}")
    register.add_argument("--events", default=",".join(DEFAULT_EVENTS), metavar="A,B",
                          help=f"event types, wildcards allowed (default {','.join(DEFAULT_EVENTS)})")
    register.add_argument("--description", default=None)
    register.set_defaults(func=_cmd_register)
    actions.add_parser("list", help="endpoints registered with Cleavr, and which secrets are stored here"
                       ).set_defaults(func=_cmd_list)
    delete = actions.add_parser("delete", help="delete an endpoint at Cleavr and forget its secret")
    delete.add_argument("webhook_id")
    delete.set_defaults(func=_cmd_delete)


# --- implementations (importable for tests and other front ends) -------------------------------------------------
async def register_webhook(settings: Settings, client: CleavrClient, url: str,
                           events: list[str] | tuple[str, ...] = DEFAULT_EVENTS,
                           description: str | None = None) -> StoredEndpoint:
    """Register `url` with Cleavr (or the sandbox) and keep the returned secret in the data dir."""
    from ..cleavr.models import WebhookCreate
    from .endpoints import EndpointStore

    request = WebhookCreate(url=url, events=list(events), description=description or "cleavr-mcp event receiver")
    endpoint = await client.create_webhook(request)
    return EndpointStore.for_settings(settings).add(endpoint, settings.environment.value)


async def list_webhooks(settings: Settings, client: CleavrClient) -> list[dict[str, Any]]:
    from .endpoints import EndpointStore

    stored = {e.id for e in EndpointStore.for_settings(settings).load()}
    endpoints = await client.list_webhooks()
    return [{"id": e.id, "url": e.url, "events": list(e.events), "secret_stored_here": e.id in stored}
            for e in endpoints]


async def delete_webhook(settings: Settings, client: CleavrClient, webhook_id: str) -> bool:
    from .endpoints import EndpointStore

    await client.delete_webhook(webhook_id)
    return EndpointStore.for_settings(settings).remove(webhook_id)


def _with_client(args: argparse.Namespace, settings: Settings, command: Callable[..., Any], *rest: Any) -> Any:
    """Run `command(settings, client, *rest)` with the client of a state opened for it."""
    import anyio

    async def run() -> Any:
        async with args.open_state(settings) as state:
            return await command(settings, state.client, *rest)

    return anyio.run(run)


def _settings() -> Settings:
    from ..config import Settings

    return Settings()


def _fail(exc: BaseException) -> int:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.title == "Settings":
        from ..config import describe_settings_error

        print(f"error: {describe_settings_error(exc)}", file=sys.stderr)  # the variable, never its value
        return 2
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    print(f"error: {message}", file=sys.stderr)
    return 1


def _cmd_register(args: argparse.Namespace) -> int:
    settings = _settings()
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    try:
        stored = _with_client(args, settings, register_webhook, args.url, events, args.description)
    except Exception as exc:  # noqa: BLE001 - a CLI reports, it does not trace
        return _fail(exc)
    from .endpoints import EndpointStore

    print(f"Registered {stored.id} → {stored.url} ({settings.environment.value}); events: {', '.join(stored.events)}")
    print(f"Signing secret stored in {EndpointStore.for_settings(settings).path} (0600); deliveries are verified "
          "with it.")
    if not stored.url.rstrip("/").endswith(RECEIVER_PATH):
        print(f"Note: the receiver listens on {RECEIVER_PATH}; check the URL ends with it.", file=sys.stderr)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    try:
        settings = _settings()
        rows = _with_client(args, settings, list_webhooks)
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    if not rows:
        print("No webhook endpoint registered: events are seen by polling only.")
    for row in rows:
        mark = "secret stored" if row["secret_stored_here"] else "no secret here"
        print(f"{row['id']}  {row['url']}  [{', '.join(row['events'])}]  ({mark})")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    try:
        settings = _settings()
        forgot = _with_client(args, settings, delete_webhook, args.webhook_id)
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    print(f"Deleted {args.webhook_id}" + (" and forgot its secret." if forgot else "."))
    return 0
