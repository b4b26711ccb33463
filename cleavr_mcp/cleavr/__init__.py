"""Cleavr Connect API: contract seams, models, and the async client.

Names are imported on first use (module `__getattr__`): `config` imports `cleavr.contract`, and the stdio server
must not pay for the client, auth and webhook modules before a tool needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, tuple[str, str]] = {
    # name -> (submodule, attribute)
    **{name: ("auth", name) for name in (
        "StaticToken", "TokenManager", "TokenSet", "TokenStore", "auth_from_settings", "authorize_with_code_flow",
        "build_authorize_url", "check_state", "exchange_code", "new_pkce")},
    **{name: ("client", name) for name in ("DEFAULT_USER_AGENT", "CleavrClient", "ClientStats", "WriteResult")},
    **{name: ("errors", name) for name in (
        "CleavrAPIError", "CleavrAuthError", "CleavrError", "CleavrNotFound", "CleavrRateLimited",
        "CleavrTransportError", "CleavrValidationError")},
    **{name: ("idempotency", name) for name in ("batch_key", "content_key", "receivable_key")},
    **{name: ("logs", name) for name in ("RedactingFilter", "redact")},
    **{name: ("prepare", name) for name in ("has_email", "has_phone", "prepare_receivable")},
    "RetryPolicy": ("retry", "RetryPolicy"),
    "WebhookEvent": ("webhooks", "Event"),
    **{name: ("webhooks", name) for name in ("parse_event", "sign", "verify_signature")},
}

__all__ = [
    "CleavrAPIError",
    "CleavrAuthError",
    "CleavrClient",
    "CleavrError",
    "CleavrNotFound",
    "CleavrRateLimited",
    "CleavrTransportError",
    "CleavrValidationError",
    "ClientStats",
    "DEFAULT_USER_AGENT",
    "RedactingFilter",
    "RetryPolicy",
    "StaticToken",
    "TokenManager",
    "TokenSet",
    "TokenStore",
    "WebhookEvent",
    "WriteResult",
    "auth_from_settings",
    "authorize_with_code_flow",
    "batch_key",
    "build_authorize_url",
    "check_state",
    "content_key",
    "exchange_code",
    "has_email",
    "has_phone",
    "new_pkce",
    "parse_event",
    "prepare_receivable",
    "receivable_key",
    "redact",
    "sign",
    "verify_signature",
]


assert set(__all__) == set(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # static analysers see the eager imports
    from .auth import (
        StaticToken,
        TokenManager,
        TokenSet,
        TokenStore,
        auth_from_settings,
        authorize_with_code_flow,
        build_authorize_url,
        check_state,
        exchange_code,
        new_pkce,
    )
    from .client import DEFAULT_USER_AGENT, CleavrClient, ClientStats, WriteResult
    from .errors import (
        CleavrAPIError,
        CleavrAuthError,
        CleavrError,
        CleavrNotFound,
        CleavrRateLimited,
        CleavrTransportError,
        CleavrValidationError,
    )
    from .idempotency import batch_key, content_key, receivable_key
    from .logs import RedactingFilter, redact
    from .prepare import has_email, has_phone, prepare_receivable
    from .retry import RetryPolicy
    from .webhooks import Event as WebhookEvent
    from .webhooks import parse_event, sign, verify_signature
