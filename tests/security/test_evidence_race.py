"""Evidence replaced on disk while the person reads the question: what is sent is exactly what they were shown.

Found by the attack review: `submit_evidence` showed `evidence.pdf (44 KB)`, the file was replaced while the
person read the question, and the replacement's bytes were uploaded. Now the files are read once per call into
held bytes; the question shows each file's size and SHA-256 prefix, and the body sends those held bytes:
- one call with a mid-call question (2025-era back-channel): the shown bytes are sent, the replacement never;
- retried rounds (2026-07-28 input_required): the changed file changes the question, so the earlier answer does
  not count and the person is asked again about the file as it is now;
- confirmation tokens: the token covers the files' SHA-256; a changed file is refused (FILE_CHANGED, naming it).
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import pytest
from mcp.types import ElicitResult

from cleavr_mcp.server.app import build_server
from tests.server.conftest import admin, client, demo_user, server, settings  # noqa: F401 - fixtures

from .pdfs import blank_pdf

pytestmark = pytest.mark.anyio
SHA256_SHOWN_CHARS = 16  # as toolkit.files shows them


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uploaded_sha256(settings, receivable_id: str) -> list[str]:  # noqa: F811
    with sqlite3.connect(settings.sandbox_db_path) as db:
        return [r[0] for r in db.execute("SELECT sha256 FROM evidence WHERE receivable_id = ?", (receivable_id,))]


async def disputed_receivable(admin, settings) -> str:  # noqa: F811
    rec = await admin.create_receivable(demo_user(settings), number=f"EV-{id(admin) % 100000}")
    await admin.advance(rec, "dispute", reason="service_not_delivered", debtor_message="Never delivered.",
                        evidence_requested=["delivery_confirmation"])
    return rec


class SwapWhileReading:
    """A person who takes their time: while the first question is on screen, the file is replaced on disk."""

    def __init__(self, path, replacement: bytes, answers: list[str]) -> None:
        self.path, self.replacement, self.answers = path, replacement, answers
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        self.asked.append(params.message)
        if len(self.asked) == 1:
            self.path.write_bytes(self.replacement)
        action = self.answers[min(len(self.asked), len(self.answers)) - 1]
        return ElicitResult(action=action, content={"confirm": True} if action == "accept" else None)


def evidence_args(rec: str, path) -> dict:
    return {"receivable_id": rec, "statement": "Delivered, signed receipt attached.",
            "documents": [{"type": "delivery_confirmation", "path": str(path)}]}


@pytest.fixture
def files(settings):  # noqa: F811
    path = settings.allowed_roots[0] / "receipt.pdf"
    shown, swapped = blank_pdf("the receipt the person checked"), blank_pdf("a different document swapped in")
    path.write_bytes(shown)
    return path, shown, swapped


async def test_mid_call_question_sends_the_bytes_shown_not_the_replacement(server, settings, admin, files):  # noqa: F811
    path, shown, swapped = files
    rec = await disputed_receivable(admin, settings)
    human = SwapWhileReading(path, swapped, ["accept"])
    async with client(server, "legacy", human) as c:
        result = await c.call_tool("submit_evidence", evidence_args(rec, path))
    assert not result.is_error, result.content
    assert path.read_bytes() == swapped  # the disk changed while the question was open...
    assert uploaded_sha256(settings, rec) == [sha(shown)]  # ...and what was shown went out
    assert len(human.asked) == 1 and sha(shown)[:SHA256_SHOWN_CHARS] in human.asked[0]


@pytest.mark.parametrize("second_answer", ["accept", "decline"])
async def test_retried_rounds_ask_again_when_the_file_changed(server, settings, admin, files, second_answer):  # noqa: F811
    path, shown, swapped = files
    rec = await disputed_receivable(admin, settings)
    human = SwapWhileReading(path, swapped, ["accept", second_answer])
    async with client(server, "auto", human) as c:
        result = await c.call_tool("submit_evidence", evidence_args(rec, path))
    assert len(human.asked) == 2, "the first answer was for the file before the change and must not count"
    assert sha(shown)[:SHA256_SHOWN_CHARS] in human.asked[0] and sha(swapped)[:SHA256_SHOWN_CHARS] in human.asked[1]
    if second_answer == "accept":
        assert not result.is_error, result.content
        assert uploaded_sha256(settings, rec) == [sha(swapped)]  # what the second, accepted question showed
    else:
        assert uploaded_sha256(settings, rec) == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_token_does_not_cover_a_file_changed_after_the_summary(settings, admin, files, mode):  # noqa: F811
    path, shown, swapped = files
    rec = await disputed_receivable(admin, settings)
    token_server = build_server(settings.model_copy(update={"confirm_channel": "model-token"}))
    async with client(token_server, mode) as c:  # no elicitation, model-token opt-in: the token flow
        first = await c.call_tool("submit_evidence", evidence_args(rec, path))
        confirmation = first.structured_content["confirmation"]
        assert sha(shown)[:SHA256_SHOWN_CHARS] in confirmation["summary"]
        path.write_bytes(swapped)
        refused = await c.call_tool("submit_evidence",
                                    {**evidence_args(rec, path), "confirmation_token": confirmation["confirmation_token"]})
        assert refused.is_error
        text = refused.content[0].text
        assert "FILE_CHANGED" in text and "receipt.pdf" in text and "without confirmation_token" in text
        assert uploaded_sha256(settings, rec) == []

        again = await c.call_tool("submit_evidence", evidence_args(rec, path))
        token = again.structured_content["confirmation"]["confirmation_token"]
        assert sha(swapped)[:SHA256_SHOWN_CHARS] in again.structured_content["confirmation"]["summary"]
        done = await c.call_tool("submit_evidence", {**evidence_args(rec, path), "confirmation_token": token})
    assert not done.is_error, done.content
    assert uploaded_sha256(settings, rec) == [sha(swapped)]
