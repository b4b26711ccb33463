"""Hostile input at the two other doors: the webhook receiver and the file-path inputs.

- Webhook receiver (`POST /webhooks/cleavr`, the same handler the HTTP server mounts): arbitrary bytes, arbitrary
  signatures, and *validly signed* arbitrary JSON and near-envelopes. The answer is always 200/400/401/413 with a
  JSON body, never a 5xx or a stack trace; nothing unsigned is stored; a stored event is stored once.
- File inputs (`FileSource` → `load_file`, used by extract_pdf and submit_evidence): arbitrary paths, URIs and
  base64. The outcome is a loaded file from inside the allowed folders, or a FileInputError / a pydantic
  validation error — never another exception, never a file from outside the roots (symlinks and `..` included).
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.webhooks import sign
from cleavr_mcp.config import Settings
from cleavr_mcp.toolkit.files import FileInputError, FileSource, load_file

SECRET = "whsec_fuzz_0123456789abcdef"
FUZZ = settings(max_examples=int(os.environ.get("CLEAVR_FUZZ_EXAMPLES", "60")), deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c,
                                                                                           max_size=4), max_leaves=15)
event_types = st.sampled_from(["receivable.disputed", "receivable.paid", "receivable.status_changed",
                               "receivable.partial_payment", "user.onboarding_completed", "nope", ""]) | st.text(max_size=20)
near_envelopes = st.fixed_dictionaries(
    {"id": st.text(max_size=20) | st.just("evt_fuzz0001") | st.builds(lambda n: f"evt_fz{n}", st.integers(0, 10**6)),
     "type": event_types,
     "data": st.dictionaries(st.sampled_from(["receivable_id", "user_id", "dispute", "amount", "status"]),
                             json_values, max_size=4) | json_values},
    optional={"created_at": st.just(datetime.now(UTC).isoformat()) | st.text(max_size=30) | json_values,
              "api_version": json_values})


# --- webhook receiver ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def receiver(portal, tmp_path_factory):
    from cleavr_mcp.events.hub import EventHub
    from cleavr_mcp.events.listener import receiver_app

    settings_ = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("webhooks"), webhook_secret=SECRET)
    hub = EventHub(settings_)
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=receiver_app(hub)), base_url="http://127.0.0.1")
    yield hub, http
    portal.call(http.aclose)
    portal.call(hub.close)


def _post(portal, http, raw: bytes, headers) -> httpx2.Response:
    return portal.call(lambda: http.post("/webhooks/cleavr", content=raw, headers=headers))


def _assert_clean(resp: httpx2.Response, allowed: set[int]) -> dict:
    assert resp.status_code in allowed, (resp.status_code, resp.text[:500])
    assert "Traceback" not in resp.text and 'File "/' not in resp.text
    body = resp.json()
    assert isinstance(body, dict)
    return body


@FUZZ
@given(raw=st.binary(max_size=2048),
       signature=st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
       | st.from_regex(r"(sha256=)?[0-9a-fA-F]{64}", fullmatch=True))
def test_unsigned_or_badly_signed_bytes_are_refused_and_not_stored(portal, receiver, raw, signature):
    hub, http = receiver
    before = portal.call(hub.inbox.count)
    headers = [(b"Content-Type", b"application/json")]
    if signature is not None:
        headers.append((b"Cleavr-Signature", signature.encode("latin-1")))  # any byte a proxy could pass on
    resp = _post(portal, http, raw, headers)
    _assert_clean(resp, {401})
    assert portal.call(hub.inbox.count) == before


@FUZZ
@given(body=json_values | near_envelopes)
def test_signed_arbitrary_json_is_stored_or_refused_cleanly(portal, receiver, body):
    hub, http = receiver
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Cleavr-Signature": sign(SECRET, raw)}
    before = portal.call(hub.inbox.count)
    first = _assert_clean(_post(portal, http, raw, headers), {200, 400})
    if first.get("received"):
        # Delivered again (Cleavr retries): acknowledged, stored once.
        again = _assert_clean(_post(portal, http, raw, headers), {200})
        assert again["duplicate"] is True and again["id"] == first["id"]
        assert portal.call(hub.inbox.count) <= before + 1
    else:
        assert portal.call(hub.inbox.count) == before


def test_a_signed_body_over_the_cap_is_413(portal, receiver):
    hub, http = receiver
    raw = wire.dumps({"id": "evt_big", "type": "receivable.paid", "data": {"pad": "x" * (1024 * 1024 + 10)}})
    resp = _post(portal, http, raw, {"Content-Type": "application/json", "Cleavr-Signature": sign(SECRET, raw)})
    _assert_clean(resp, {413})


# --- file inputs ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("files")
    root = base / "allowed"
    outside = base / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(b"%PDF-1.4 outside the root")
    (root / "empty.pdf").write_bytes(b"")
    (root / "notes.txt").write_text("hello")
    (root / "sub").mkdir()
    (root / "link-out.pdf").symlink_to(outside / "secret.pdf")
    (root / "link-dir").symlink_to(outside)
    return root, outside


path_texts = st.sampled_from([
    "", ".", "..", "/", "~", "~/x.pdf", "/etc/passwd", "/proc/self/environ", "/dev/zero", "/dev/stdin",
    "{root}", "{root}/", "{root}/empty.pdf", "{root}/notes.txt", "{root}/sub", "{root}/missing.pdf",
    "{root}/../outside/secret.pdf", "{root}/link-out.pdf", "{root}/link-dir/secret.pdf", "{root}/sub/../../outside",
    "{root}/\x00.pdf", "relative/path.pdf", "{root}/" + "a" * 300 + ".pdf", "{root}/%2e%2e/outside/secret.pdf",
]) | st.text(max_size=60)
uri_texts = st.sampled_from([
    "file://{root}/notes.txt", "file://{root}/../outside/secret.pdf", "file://{root}/link-out.pdf",
    "file:///etc/passwd", "file://evil.example/share/x.pdf", "file:{root}/notes.txt", "http://example.com/x.pdf",
    "https://169.254.169.254/latest/meta-data", "ftp://x/y", "data:application/pdf;base64,JVBERi0=",
    "file://{root}/%2e%2e/outside/secret.pdf", "file://{root}/%00.pdf", "javascript:alert(1)", "",
]) | st.text(max_size=60)
b64_texts = (st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())
             | st.sampled_from(["", "====", "!!!!", "JVBERi0xLjQK", base64.b64encode(b"%PDF-1.4\n%%EOF").decode(),
                                base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20).decode()])
             | st.text(max_size=60))


@FUZZ
@given(path=st.none() | path_texts, uri=st.none() | uri_texts, content=st.none() | b64_texts,
       filename=st.none() | st.text(max_size=40), purpose=st.sampled_from(["invoice", "evidence"]))
@example(path="{root}/\x00.pdf", uri=None, content=None, filename=None, purpose="invoice")  # was a ValueError
@example(path=None, uri="file://{root}/%00.pdf", content=None, filename=None, purpose="evidence")
@example(path="{root}/link-out.pdf", uri=None, content=None, filename=None, purpose="invoice")
@example(path="{root}/../outside/secret.pdf", uri=None, content=None, filename=None, purpose="invoice")
@example(path=None, uri="file://{root}/link-dir/secret.pdf", content=None, filename=None, purpose="evidence")
def test_file_inputs_load_from_inside_the_roots_or_fail_cleanly(roots, path, uri, content, filename, purpose):
    root, outside = roots

    def fill(value: str | None) -> str | None:
        return value.replace("{root}", str(root)) if isinstance(value, str) else value

    try:
        source = FileSource(path=fill(path), uri=fill(uri), content_base64=content, filename=filename)
    except ValidationError:
        return  # refused by the schema (e.g. not exactly one source): a clean isError at the tool boundary
    try:
        loaded = load_file(source, purpose, [root], max_bytes=1024 * 1024)
    except FileInputError as exc:
        assert exc.code and exc.message and "Traceback" not in exc.message
        return
    if loaded.path is not None:
        resolved = loaded.path.resolve()
        assert resolved.is_relative_to(root.resolve()), f"read {resolved} from outside {root}"
        assert not resolved.is_relative_to(outside.resolve())


HOSTILE_FILES = [
    {"path": "/tmp/\x00.pdf"}, {"uri": "file:///tmp/%00.pdf"}, {"path": "/etc/passwd"},
    {"uri": "http://169.254.169.254/latest/meta-data"}, {"path": "relative.pdf"}, {"content_base64": "!!!"},
    {"content_base64": base64.b64encode(b"not a pdf").decode()}, {"path": "/tmp/x.pdf", "content_base64": "JVBERi0="},
]


@pytest.mark.parametrize("file", HOSTILE_FILES, ids=lambda f: json.dumps(f)[:40])
@pytest.mark.parametrize("tool", ["extract_pdf", "submit_evidence"])
def test_hostile_file_inputs_through_the_tools_are_clear_errors(portal, clients, fuzz_settings, tool, file):
    from cleavr_mcp.sandbox.testing import demo_user_id

    from .conftest import bench

    if tool == "extract_pdf":
        args = {"user_id": demo_user_id(fuzz_settings.sandbox_db_path), "file": file}
    else:
        args = {"receivable_id": "rec_doesnotexist00", "statement": "We delivered.",
                "documents": [{"type": "delivery_confirmation", **file}]}
    for mode in ("auto", "legacy"):
        result = portal.call(clients[mode].call_tool, tool, args)
        text = result.content[0].text
        assert result.is_error and bench.is_clear_error(result), text[:500]
        assert "Error executing tool" not in text
