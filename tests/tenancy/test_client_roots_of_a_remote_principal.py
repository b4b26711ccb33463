"""Attack: a remote principal acting for some creditors declares `file:///…` roots from its own client, and the
server then reads any PDF on the server's machine under them (another creditor's invoice in a folder the
operator never allowed), extracting its debtor, amounts and numbers into B's answer. A remote client's roots
name folders of the client's machine, never the server's: only the configured roots count for such a caller."""

from __future__ import annotations

import shutil

import pytest
from mcp import types

from .world import CALLERS, ERAS, LOOKS, World, connect, running_world

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("tenancy-roots")) as w:
        yield w


@pytest.mark.parametrize("era", ERAS)
async def test_a_scoped_principals_client_roots_open_no_server_folder(world: World, era: str, tmp_path) -> None:
    elsewhere = tmp_path / "not-an-allowed-root"
    elsewhere.mkdir()
    foreign_pdf = elsewhere / "a-invoice.pdf"
    shutil.copy(world.creditors["a"].pdf, foreign_pdf)

    async def roots(_context) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=f"file://{elsewhere}", name="mine")])

    async with connect(world, CALLERS["B"], era, list_roots_callback=roots) as client:
        result = await client.call_tool("extract_pdf", {"user_id": world.creditors["b"].user_id,
                                                        "file": {"path": str(foreign_pdf)}})
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert LOOKS["a"].debtor not in text and LOOKS["a"].amount not in text, text[:400]
    assert result.is_error, text[:400]
