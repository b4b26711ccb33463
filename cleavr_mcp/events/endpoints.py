"""Webhook endpoints this installation registered with Cleavr, and their signing secrets (0600 in the data dir).

Cleavr returns an endpoint's `whsec_…` secret once, at creation: `cleavr-mcp webhooks register` keeps it here
so the receiver can verify deliveries. `CLEAVR_MCP_WEBHOOK_SECRET` (an endpoint registered elsewhere) is accepted
too. Several secrets can be valid at once (re-registration, rotation): a delivery signed with any of them passes.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cleavr.models import WebhookEndpoint
    from ..config import Settings

FILENAME = "webhooks.json"


@dataclass(frozen=True)
class StoredEndpoint:
    id: str
    url: str
    secret: str
    events: list[str]
    environment: str
    created_at: str | None = None

    def public(self) -> dict[str, object]:
        """Everything but the secret (for listings)."""
        data = asdict(self)
        data.pop("secret")
        return data


class EndpointStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cache: tuple[float, list[StoredEndpoint]] | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> EndpointStore:
        return cls(Path(settings.data_dir) / FILENAME)

    def load(self) -> list[StoredEndpoint]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return []
        if self._cache is not None and self._cache[0] == mtime:
            return self._cache[1]
        raw = json.loads(self.path.read_text())
        endpoints = [StoredEndpoint(**item) for item in raw.get("endpoints", [])]
        self._cache = (mtime, endpoints)
        return endpoints

    def _write(self, endpoints: list[StoredEndpoint]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = json.dumps({"endpoints": [asdict(e) for e in endpoints]}, indent=2)
        # Written 0600 from the first byte (never world-readable, even briefly), then renamed into place.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".webhooks-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(body)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cache = None

    def add(self, endpoint: WebhookEndpoint, environment: str) -> StoredEndpoint:
        if not endpoint.secret:
            raise ValueError("Cleavr returned no secret for this endpoint: it cannot be verified.")
        stored = StoredEndpoint(id=endpoint.id, url=endpoint.url, secret=endpoint.secret, events=list(endpoint.events),
                                environment=environment,
                                created_at=endpoint.created_at.isoformat() if endpoint.created_at else None)
        self._write([e for e in self.load() if e.id != endpoint.id] + [stored])
        return stored

    def remove(self, endpoint_id: str) -> bool:
        endpoints = self.load()
        kept = [e for e in endpoints if e.id != endpoint_id]
        if len(kept) == len(endpoints):
            return False
        self._write(kept)
        return True


def signing_secrets(settings: Settings, store: EndpointStore | None = None) -> list[str]:
    """Every secret a delivery may be signed with: the configured one, then the registered endpoints'."""
    secrets = []
    if settings.webhook_secret is not None and settings.webhook_secret.get_secret_value():
        secrets.append(settings.webhook_secret.get_secret_value())
    secrets += [e.secret for e in (store or EndpointStore.for_settings(settings)).load()]
    return list(dict.fromkeys(secrets))
