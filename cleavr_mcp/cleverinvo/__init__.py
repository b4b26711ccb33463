"""CleverInvo integration: the async API client, its models and errors, and the mapping to Cleavr receivables.

    from cleavr_mcp.cleverinvo import CleverInvoClient, assess, to_receivable, idempotency_key_for_invoice
"""

from .client import LIVE_BASE_URL, SANDBOX_MOUNT_PATH, CleverInvoClient, client_from_settings
from .errors import (
    AuthenticationError,
    BadRequestError,
    CleverInvoError,
    NotFoundError,
    PdfTooLargeError,
    PlanLimitError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from .mapping import (
    Assessment,
    Blocker,
    MappedReceivable,
    NotRecoverableError,
    ParsedAddress,
    assess,
    idempotency_key_for_invoice,
    parse_address,
    recognise_tax_id,
    recoverability,
    to_receivable,
)
from .models import (
    Client,
    ClientCreate,
    ClientUpdate,
    Invoice,
    InvoiceCreate,
    InvoiceSaved,
    InvoiceStatus,
    InvoiceSummary,
    InvoiceUpdate,
    LineItem,
    LineItemInput,
    Page,
    PdfDownload,
)
from .ratelimit import RateLimiter, limiter_for_key

__all__ = [
    "LIVE_BASE_URL", "SANDBOX_MOUNT_PATH", "CleverInvoClient", "client_from_settings",
    "AuthenticationError", "BadRequestError", "CleverInvoError", "NotFoundError", "PdfTooLargeError",
    "PlanLimitError", "RateLimitedError", "ServerError", "TransportError",
    "Assessment", "Blocker", "MappedReceivable", "NotRecoverableError", "ParsedAddress", "assess",
    "idempotency_key_for_invoice", "parse_address", "recognise_tax_id", "recoverability", "to_receivable",
    "Client", "ClientCreate", "ClientUpdate", "Invoice", "InvoiceCreate", "InvoiceSaved", "InvoiceStatus",
    "InvoiceSummary", "InvoiceUpdate", "LineItem", "LineItemInput", "Page", "PdfDownload",
    "RateLimiter", "limiter_for_key",
]
