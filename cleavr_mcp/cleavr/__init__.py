"""Cleavr Connect API: contract seams, models, and the async client."""

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

__all__ = [
    "DEFAULT_USER_AGENT",
    "CleavrAPIError",
    "CleavrAuthError",
    "CleavrClient",
    "CleavrError",
    "CleavrNotFound",
    "CleavrRateLimited",
    "CleavrTransportError",
    "CleavrValidationError",
    "ClientStats",
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
