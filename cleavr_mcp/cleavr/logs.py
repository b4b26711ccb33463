"""The client's logger, and the redaction every log line and exception message goes through.

The client never logs bodies or headers in the first place; `redact()` and `RedactingFilter` are the second line
of defence for anything that slips into a message (an API error echoing a token, a form body in a traceback).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

LOGGER_NAME = "cleavr_mcp.cleavr"
REDACTED = "[REDACTED]"
MAX_LOGGED_TEXT = 500  # longer strings are bodies, not messages: cut them

# Keys whose values are secrets wherever they appear (JSON, form fields, headers, dict keys).
SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "webhook_secret",
        "secret",
        "password",
        "api_key",
        "x-api-key",
        "token",
    }
)

_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# Prefixed credentials from the contract (§1): the prefix says what it was, the rest goes.
_PREFIXED = re.compile(r"\b(sk_live_|sk_test_|whsec_|at_live_|at_test_|rt_live_|rt_test_)[A-Za-z0-9_\-]+")
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>\b(?:" + "|".join(re.escape(k) for k in sorted(SECRET_KEYS, key=len, reverse=True)) + r"))"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\"'&\s,;}]+)"
)
# Authorization codes only travel as query/form parameters; "code" alone is too common (error codes) to redact.
_AUTH_CODE = re.compile(r"([?&]code=)[^&\s\"']+")


def redact_text(text: str, *, key_values: bool = True) -> str:
    """Scrub credentials from free text. `key_values=False` keeps `name=value` pairs (e.g. the `?token=` of an
    onboarding URL the user must be given) and only removes bearer headers and prefixed credentials."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PREFIXED.sub(lambda m: m.group(1) + REDACTED, text)
    if not key_values:
        return text
    text = _KEY_VALUE.sub(lambda m: m.group("key") + m.group("sep") + REDACTED, text)
    return _AUTH_CODE.sub(lambda m: m.group(1) + REDACTED, text)


def redact(value: Any, *, key_values: bool = True) -> Any:
    """A copy of `value` with secrets replaced: strings scrubbed, secret-named keys blanked, bytes summarised."""
    if isinstance(value, str):
        return redact_text(value, key_values=key_values)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and k.lower() in SECRET_KEYS else redact(v, key_values=key_values))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, key_values=key_values) for v in value)
    if hasattr(value, "items") and callable(value.items):  # httpx2.Headers and friends
        return {k: (REDACTED if k.lower() in SECRET_KEYS else redact(v, key_values=key_values))
                for k, v in value.items()}
    return value


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return f"<{len(arg)} bytes>"
    if isinstance(arg, str):
        text = redact_text(arg)
        return text if len(text) <= MAX_LOGGED_TEXT else f"{text[:MAX_LOGGED_TEXT]}…(+{len(text) - MAX_LOGGED_TEXT} chars)"
    if isinstance(arg, (int, float, bool)) or arg is None:
        return arg
    return _redact_arg(str(redact(arg)))


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a record's message and arguments, and cuts anything body-sized."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if record.args:
            if isinstance(record.args, Mapping):
                record.args = {k: _redact_arg(v) for k, v in record.args.items()}
            else:
                record.args = tuple(_redact_arg(a) for a in record.args)
        return True


logger = logging.getLogger(LOGGER_NAME)
if not any(isinstance(f, RedactingFilter) for f in logger.filters):
    logger.addFilter(RedactingFilter())
