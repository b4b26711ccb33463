"""What the event workers (webhook receiver and listener, subscription handlers) need from the hub that composes
them: they are given the hub, and name it by these protocols, so the hub imports them and they never import it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..cleavr.webhooks import Event
    from ..config import Settings
    from .store import StoredEvent


class WebhookHub(Protocol):
    """For the receiver and its listener: the signing secrets, the inbox, and the announcement of new events."""

    settings: Settings

    def secrets(self) -> list[str]: ...

    async def record_webhook(self, event: Event, raw: bytes) -> StoredEvent | None: ...

    async def announce(self, events: Iterable[StoredEvent]) -> None: ...


class SubscriptionHub(Protocol):
    """For the subscription handlers: a receivable's creditor, and the legacy (resources/subscribe) subscribers."""

    async def owner_of(self, receivable_id: str) -> str | None: ...

    def subscribe_legacy(self, uri: str, key: Any, session: Any, principal: Any = None) -> None: ...

    def unsubscribe_legacy(self, uri: str, key: Any) -> None: ...
