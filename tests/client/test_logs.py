"""Redaction: tokens, secrets, Authorization headers, client_secret form fields and bodies never reach the logs."""

from __future__ import annotations

import logging

from cleavr_mcp.cleavr import RedactingFilter, redact
from cleavr_mcp.cleavr.logs import LOGGER_NAME, REDACTED


def test_redact_strings():
    text = redact(
        "Authorization: Bearer at_test_abc.def-123 client_secret=sk_test_SECRET&refresh_token=rt_test_XYZ "
        '{"access_token": "at_test_q", "code": "NOT_FOUND"} whsec_live_1 /cb?code=authcode123&state=s'
    )
    for secret in ("abc.def-123", "SECRET", "rt_test_XYZ", "XYZ", "at_test_q", "live_1", "authcode123"):
        assert secret not in text, secret
    assert '"code": "NOT_FOUND"' in text  # error codes are not secrets
    assert "state=s" in text


def test_redact_structures():
    out = redact({"Authorization": "Bearer x", "headers": {"x-api-key": "k"}, "form": [{"client_secret": "s"}],
                  "body": b"\x00" * 100, "ok": 3})
    assert out == {"Authorization": REDACTED, "headers": {"x-api-key": REDACTED},
                   "form": [{"client_secret": REDACTED}], "body": "<100 bytes>", "ok": 3}


def test_filter_scrubs_message_and_args_and_cuts_bodies(caplog):
    log = logging.getLogger(LOGGER_NAME)
    assert any(isinstance(f, RedactingFilter) for f in log.filters)
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        log.warning("sent %s with %s and %s", "Bearer at_test_SECRET1", b"raw body", "x" * 5000)
        log.warning("refresh_token=rt_test_SECRET2 failed")
    text = caplog.text
    assert "SECRET1" not in text and "SECRET2" not in text and "raw body" not in text
    assert "<8 bytes>" in text and "(+4500 chars)" in text
