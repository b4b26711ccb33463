"""Hostile PDFs cost bounded CPU and memory, and nothing keeps running after the caller gives up.

Found by the attack review: a 440-byte PDF with a huge MediaBox made the OCR rasteriser allocate ~7 GB, and a PDF
with an expensive content stream kept a core busy for more than 150 s, still burning after the client cancelled.
Now pages are capped in pixels before rasterising, and extraction runs in a worker process (cleavr_mcp.limits)
with CPU-time, address-space and wall-clock limits, killed with everything it started when the request ends.
"""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path

import anyio
import pytest

from cleavr_mcp import limits
from cleavr_mcp.limits import LimitExceeded, Limits, live_workers, run_limited
from cleavr_mcp.pdfcheck import InvalidFileError
from tests.deps import missing
from tests.server.conftest import client, demo_user, server, settings  # noqa: F401 - fixtures

from . import workers
from .pdfs import huge_mediabox_pdf, nested_forms_pdf, text_bomb_pdf

pytestmark = pytest.mark.anyio
TIGHT = Limits(cpu_seconds=2, memory_bytes=1024 * limits.MIB, wall_seconds=20)


def needs_tesseract() -> None:
    from cleavr_mcp.extraction.reading import tesseract_available

    if shutil.which("tesseract") is None or not tesseract_available():
        missing("tesseract")


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting to be reaped (which uses no CPU)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def extract(server, settings, pdf: bytes):  # noqa: F811
    async with client(server) as c:
        return await c.call_tool("extract_pdf", {"user_id": demo_user(settings), "file": {
            "content_base64": base64.b64encode(pdf).decode(), "filename": "hostile.pdf"}})


# --- the pixel cap ---------------------------------------------------------------------------------------------

async def test_a_huge_mediabox_is_refused_before_anything_is_rasterised():
    needs_tesseract()
    pdf = huge_mediabox_pdf()
    assert len(pdf) < 440
    from cleavr_mcp.extraction import extract_invoice

    # 512 MB is far below what rendering the page would take (5 m × 5 m at 300 dpi: 3.6 G pixels)
    with pytest.raises(InvalidFileError) as caught:
        await run_limited(extract_invoice, pdf, limits=Limits(cpu_seconds=20, memory_bytes=512 * limits.MIB),
                          preload=limits.PDF_PRELOAD)
    assert caught.value.reason_code == "PAGE_TOO_LARGE"
    assert "508 × 508 cm" in caught.value.message and "A4" in caught.value.message


def test_big_pages_are_rendered_at_a_lower_resolution_within_the_cap():
    from cleavr_mcp.extraction.reading import MAX_PAGE_PIXELS, render_scale

    a4 = render_scale(595, 842, 300, 1)
    assert a4 == pytest.approx(300 / 72)  # an ordinary page keeps its resolution
    a1 = render_scale(1684, 2384, 300, 1)
    assert 1684 * 2384 * a1 * a1 <= MAX_PAGE_PIXELS * 1.0001 and a1 * 72 >= 150
    with pytest.raises(InvalidFileError):
        render_scale(14400, 14400, 300, 3)


async def test_the_huge_mediabox_through_extract_pdf_is_a_clear_error(server, settings):  # noqa: F811
    needs_tesseract()
    result = await extract(server, settings, huge_mediabox_pdf())
    assert result.is_error
    text = result.content[0].text
    assert "INVALID_FILE" in text and "too large to scan" in text and "Next step:" in text


# --- CPU, memory and time limits ----------------------------------------------------------------------------------

async def test_an_expensive_text_stream_is_stopped_at_the_cpu_limit():
    from cleavr_mcp.extraction import extract_invoice

    pdf = text_bomb_pdf(40)  # ~50 s of CPU in-process
    assert len(pdf) < 1024 * 1024
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as caught:
        await run_limited(extract_invoice, pdf, limits=TIGHT, preload=limits.PDF_PRELOAD)
    assert caught.value.which == "cpu" and "2 s of CPU" in caught.value.message
    assert time.monotonic() - started < TIGHT.wall_seconds
    assert live_workers() == set()


async def test_nested_forms_rasterised_for_ocr_are_stopped_too():
    needs_tesseract()
    from cleavr_mcp.extraction import extract_invoice

    with pytest.raises(LimitExceeded) as caught:
        await run_limited(extract_invoice, nested_forms_pdf(7), limits=TIGHT, preload=limits.PDF_PRELOAD)
    assert caught.value.which in ("cpu", "memory", "time")  # PDFium aborts when out of address space


async def test_extract_pdf_names_what_stopped_it_and_what_to_do(server, settings, monkeypatch):  # noqa: F811
    monkeypatch.setattr(limits, "PDF_EXTRACTION", TIGHT)
    started = time.monotonic()
    result = await extract(server, settings, text_bomb_pdf(40))
    assert time.monotonic() - started < TIGHT.wall_seconds
    assert result.is_error
    text = result.content[0].text
    assert "INVALID_FILE" in text and "EXTRACTION_TOO_EXPENSIVE" in text and "CPU" in text
    assert live_workers() == set()


async def test_memory_and_wall_clock_limits():
    with pytest.raises(LimitExceeded) as caught:
        await run_limited(workers.allocate, 2048, limits=Limits(memory_bytes=512 * limits.MIB))
    assert caught.value.which == "memory"
    with pytest.raises(LimitExceeded) as caught:
        await run_limited(workers.sleep, 30, limits=Limits(wall_seconds=0.5))
    assert caught.value.which == "time"
    assert await run_limited(workers.allocate, 64, limits=Limits(memory_bytes=512 * limits.MIB)) == 64 * limits.MIB


async def test_results_and_errors_come_back_as_they_are():
    assert await run_limited(workers.echo, {"a": [1, 2.5, "é"]}) == {"a": [1, 2.5, "é"]}
    with pytest.raises(InvalidFileError) as caught:
        await run_limited(workers.fail_with, "CORRUPT", "damaged")
    assert caught.value.reason_code == "CORRUPT" and caught.value.message == "damaged"


# --- cancellation -------------------------------------------------------------------------------------------------

async def test_cancelling_kills_the_worker_and_what_it_started(tmp_path):
    pid_file = tmp_path / "pids"
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: run_limited(workers.burn_and_spawn, str(pid_file), limits=Limits(wall_seconds=60)))
        with anyio.fail_after(20):
            while not pid_file.exists():
                await anyio.sleep(0.02)
        worker, child = map(int, pid_file.read_text().split())
        assert live_workers() == {worker}
        before = cpu_ticks(worker) + cpu_ticks(child)
        await anyio.sleep(0.3)
        assert cpu_ticks(worker) + cpu_ticks(child) > before, "the worker was not burning CPU"
        tg.cancel_scope.cancel()
    # run_limited kills before the cancellation propagates: both are gone (not just signalled) within a moment
    with anyio.fail_after(3):
        while not (gone(worker) and gone(child)):
            await anyio.sleep(0.02)
    assert live_workers() == set()
    assert os.getpgid(os.getpid()) != worker  # the kill hit the worker's own group, not ours


async def test_cancelling_an_extract_pdf_call_kills_its_worker(server, settings, monkeypatch):  # noqa: F811
    monkeypatch.setattr(limits, "PDF_EXTRACTION", Limits(cpu_seconds=120, wall_seconds=120))
    seen: set[int] = set()
    async with anyio.create_task_group() as tg:
        tg.start_soon(extract, server, settings, text_bomb_pdf(40))
        with anyio.fail_after(20):
            while not live_workers():
                await anyio.sleep(0.02)
        seen = live_workers()
        await anyio.sleep(0.3)
        tg.cancel_scope.cancel()
    with anyio.fail_after(3):
        while not all(gone(pid) for pid in seen):
            await anyio.sleep(0.02)
    assert live_workers() == set()


def test_a_worker_never_writes_to_or_reads_from_the_servers_stdio(tmp_path):
    """Over stdio, the server's stdout is the MCP connection: a worker's print must go to stderr instead."""
    import subprocess
    import sys

    script = ("import anyio\nfrom cleavr_mcp.limits import run_limited\nfrom tests.security import workers\n"
              "print(repr(anyio.run(lambda: run_limited(workers.print_and_read_stdin, 'NOISE'))), "
              "file=__import__('sys').stderr)\n")
    done = subprocess.run([sys.executable, "-c", script], input=b'{"jsonrpc": "2.0"}\n', capture_output=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    assert b"NOISE" in done.stderr and b"''" in done.stderr  # printed to stderr; stdin read as empty


async def test_a_client_disconnecting_from_the_sandbox_kills_its_worker(tmp_path, monkeypatch):
    """Standalone sandbox (uvicorn over real HTTP, which does not cancel a handler when the client leaves): the
    OCR endpoint watches for the disconnect and the worker is killed."""
    import httpx2

    from cleavr_mcp.sandbox.config import SandboxConfig
    from cleavr_mcp.sandbox.testing import demo_user_id, running_sandbox, sandbox_access_token, sandbox_credentials

    monkeypatch.setattr(limits, "PDF_EXTRACTION", Limits(cpu_seconds=120, wall_seconds=120))
    db = tmp_path / "sandbox.sqlite3"
    with running_sandbox(SandboxConfig(db_path=db, rate_limit_per_second=1000)) as base_url:
        async with httpx2.AsyncClient(base_url=base_url, timeout=30) as http:
            cid, secret = sandbox_credentials(db)
            token = (await sandbox_access_token(http, base_url, cid, secret))["access_token"]
            seen: set[int] = set()

            async def upload_then_give_up() -> None:
                with pytest.raises(httpx2.TimeoutException):
                    await http.post("/v1/receivables/ocr", timeout=httpx2.Timeout(30, read=2.0),
                                    headers={"Authorization": f"Bearer {token}", "Cleavr-Version": "2026-01-02"},
                                    files={"file": ("bomb.pdf", text_bomb_pdf(40), "application/pdf")},
                                    data={"user_id": demo_user_id(db)})

            async with anyio.create_task_group() as tg:
                tg.start_soon(upload_then_give_up)
                with anyio.fail_after(20):
                    while not live_workers():
                        await anyio.sleep(0.02)
                seen = live_workers()
        with anyio.fail_after(5):  # the client gave up after 2 s; the ~50 s of work must not go on
            while not all(gone(pid) for pid in seen):
                await anyio.sleep(0.05)
    assert live_workers() == set()


def test_workers_start_under_a_long_tmpdir(tmp_path):
    """The forkserver's Unix socket lives under TMPDIR, and such paths are limited to ~104 bytes."""
    import subprocess
    import sys

    long_tmp = tmp_path / ("t" * 60) / ("u" * 60)
    long_tmp.mkdir(parents=True)
    script = "import anyio\nfrom cleavr_mcp.limits import run_limited\nprint(anyio.run(lambda: run_limited(abs, -7)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60,
                          env={**os.environ, "TMPDIR": str(long_tmp)}, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.strip() == b"7"
    assert list(long_tmp.iterdir()) == []  # nothing left behind
