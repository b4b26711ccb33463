"""Attack: the configured allowed folder is one for the whole server, so principal B reads creditor a's invoice
PDF from it by path (extract_pdf under B's own creditor) and gets a's debtor, amounts and numbers back; and the
path completion of submit_invoice_pdf lists a's files. A principal acting for some creditors only sends its
files as content: no folder of the server's is opened to it."""

from __future__ import annotations

import pytest
from mcp.types import PromptReference

from .world import CALLERS, LOOKS, World, connect, running_world

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("tenancy-shared-root")) as w:
        yield w


async def test_b_reads_no_pdf_of_a_from_the_shared_folder(world: World) -> None:
    a_pdf = world.creditors["a"].pdf
    async with connect(world, CALLERS["B"], "auto") as client:
        result = await client.call_tool("extract_pdf", {"user_id": world.creditors["b"].user_id,
                                                        "file": {"path": str(a_pdf)}})
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert result.is_error and LOOKS["a"].debtor not in text, text[:300]
        # What to do instead, and nothing about the server's own settings (not theirs to change).
        assert "content_base64" in text and "CLEAVR_MCP_ALLOWED_ROOTS" not in text, text[:300]
        completion = await client.complete(PromptReference(type="ref/prompt", name="submit_invoice_pdf"),
                                           {"name": "path", "value": str(a_pdf.parent)})
        assert not [v for v in completion.completion.values if "a-invoice" in v], completion.completion.values
