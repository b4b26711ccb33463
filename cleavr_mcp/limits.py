"""Run a function in a worker process with CPU-time, memory and wall-clock limits, killed on cancellation.

    result = await run_limited(extract_invoice, pdf_bytes, limits=limits.PDF_EXTRACTION)

Why a process: reading a hostile PDF can take minutes of CPU (a content stream that draws a form that draws a
form… millions of times) or gigabytes (a tiny file whose page is 5 m wide, rasterised at 300 dpi). A thread cannot
be stopped or bounded; a process can. The worker gets `setrlimit` limits (RLIMIT_CPU, RLIMIT_AS, no core files),
the caller a wall-clock timeout, and when the caller's request is cancelled (the MCP client gave up, the HTTP client
disconnected) the worker and everything it started (Tesseract) is killed at once: its own process group gets
SIGKILL. Nothing keeps burning CPU for a request nobody waits for.

Workers are forked from a multiprocessing *forkserver* (started once, single-threaded, with the heavy modules
preloaded), never from the server process itself, which has threads: a fork there could inherit a held lock.
`python benchmarks/extraction_worker.py` measures what this costs per call against a plain thread.

This module imports nothing from the project, so any layer may use it; the function it runs must be importable by
name (a top-level function) and its arguments and result picklable.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
MIB = 1024 * 1024
Which = Literal["cpu", "memory", "time"]


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 60.0
    memory_bytes: int = 1536 * MIB  # address space of the worker (and of each program it starts)
    wall_seconds: float = 90.0


# Reading one PDF (text layer, or OCR of up to 10 scanned pages: ~5 s of CPU each on a shared core).
PDF_EXTRACTION = Limits(cpu_seconds=60.0, memory_bytes=1536 * MIB, wall_seconds=90.0)
PDF_PRELOAD = ("cleavr_mcp.extraction", "cleavr_mcp.extraction.extract", "cleavr_mcp.extraction.reading",
               "cleavr_mcp.pdfcheck", "pypdf", "pypdfium2", "PIL.Image", "PIL.ImageFilter", "pytesseract",
               "cleavr_mcp.pdf_worker_warmup")


class LimitExceeded(Exception):
    """The worker used up a limit and was stopped; `which` is cpu | memory | time."""

    def __init__(self, which: Which, limits: Limits) -> None:
        self.which = which
        self.limits = limits
        what = {"cpu": f"more than {limits.cpu_seconds:g} s of CPU time",
                "memory": f"more than {limits.memory_bytes / MIB:.0f} MB of memory",
                "time": f"more than {limits.wall_seconds:g} s"}[which]
        self.message = f"The work needed {what} and was stopped."
        super().__init__(self.message)


class WorkerFailed(Exception):
    """The worker died without an answer (a crash in native code, a signal from outside)."""


# --- the worker side ----------------------------------------------------------------------------------------------

def _apply_limits(limits: Limits) -> None:
    import resource

    os.setsid()  # its own process group: killing the group also kills what it started (tesseract)
    cpu = max(1, math.ceil(limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # soft: SIGXCPU; hard one second later: SIGKILL
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a killed worker leaves no core file
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)


def _caused_by_memory(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:  # libraries often wrap a MemoryError in their own error
        if isinstance(exc, MemoryError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _portable(exc: BaseException) -> tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]:
    return type(exc), exc.args, dict(getattr(exc, "__dict__", {}))


def _quiet_stdio() -> None:
    """The worker inherits the server's stdin/stdout, which over stdio *are* the MCP connection: a library's print
    (or Tesseract's) must never land there. stdout goes to stderr (the log), stdin reads nothing."""
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _worker_main(conn, func: Callable[..., Any], args: tuple, kwargs: dict, limits: Limits) -> None:
    _quiet_stdio()
    _apply_limits(limits)
    try:
        result = func(*args, **kwargs)
        message: tuple[str, Any] = ("ok", result)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
        message = ("memory", None) if _caused_by_memory(exc) else ("error", _portable(exc))
    try:
        conn.send(message)
    except MemoryError:
        conn.send(("memory", None))
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or error
        conn.send(("error", (WorkerFailed, (f"the worker's answer could not be sent back ({exc!r})",), {})))
    finally:
        conn.close()


def _rebuild(kind: type[BaseException], args: tuple, state: dict[str, Any]) -> BaseException:
    """The worker's exception, as the same type (InvalidFileError keeps its reason_code), whatever its __init__."""
    exc = kind.__new__(kind)
    exc.args = args
    with contextlib.suppress(AttributeError, TypeError):
        exc.__dict__.update(state)
    return exc


# --- the caller side ----------------------------------------------------------------------------------------------

_context_lock = threading.Lock()
_context: Any = None
_live: set[int] = set()  # pids of running workers (tests and `live_workers()` look at it)


_starting = threading.local()


def _without_main(get_preparation_data: Callable[[str], dict]) -> Callable[[str], dict]:
    """multiprocessing re-imports the caller's __main__ in every worker (so that functions defined there can be
    found); ours runs a function importable by name, so skip it: no per-call import of the CLI or a test runner,
    and no `if __name__ == "__main__"` requirement on scripts that use this module."""
    def prepare(name: str) -> dict:
        data = get_preparation_data(name)
        if getattr(_starting, "ours", False):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data
    prepare.__wrapped__ = get_preparation_data  # type: ignore[attr-defined]
    return prepare


def _start(process) -> None:
    _starting.ours = True
    try:
        process.start()
    finally:
        _starting.ours = False


def _short_socket_dir() -> None:
    """The forkserver listens on a Unix socket under the temporary folder, and such a path is limited to ~104
    bytes: with a long TMPDIR, give multiprocessing a short folder of its own in /tmp (removed at exit)."""
    import shutil
    import tempfile
    from multiprocessing import process, util

    config = process.current_process()._config  # where multiprocessing.util.get_temp_dir keeps its choice
    if config.get("tempdir") is not None or len(tempfile.gettempdir()) + 40 <= 100 or not os.path.isdir("/tmp"):
        return
    short = tempfile.mkdtemp(prefix="cleavr-mp-", dir="/tmp")
    config["tempdir"] = short
    util.Finalize(None, shutil.rmtree, args=(short,), kwargs={"ignore_errors": True}, exitpriority=-100)


def _forkserver(preload: Sequence[str]):
    global _context
    with _context_lock:
        if _context is None:
            from multiprocessing import spawn

            if not hasattr(spawn.get_preparation_data, "__wrapped__"):
                spawn.get_preparation_data = _without_main(spawn.get_preparation_data)
            _short_socket_dir()
            ctx = multiprocessing.get_context("forkserver")
            # Replaces the default preload of __main__ (which would re-import the CLI script in the server).
            ctx.set_forkserver_preload([__name__, *preload])
            _context = ctx
        return _context


def live_workers() -> set[int]:
    return set(_live)


def _kill(process) -> None:
    """SIGKILL the worker's process group (it and whatever it started), or the worker alone if it has none yet."""
    pid = process.pid
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, OSError, ValueError):
            process.kill()


def _exit_reason(exitcode: int | None) -> Which | None:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):  # our CPU limit (the hard one is a SIGKILL)
        return "cpu"
    if exitcode == -signal.SIGABRT:  # native code (PDFium, Tesseract) aborts when an allocation fails under RLIMIT_AS
        return "memory"
    return None


async def run_limited(func: Callable[..., T], /, *args: Any, limits: Limits = Limits(),
                      preload: Sequence[str] = (), **kwargs: Any) -> T:
    """`func(*args, **kwargs)` in a limited worker process; its exception is re-raised here as is.

    Raises LimitExceeded (cpu, memory or time) when the worker hit a limit, WorkerFailed when it died otherwise.
    Cancelling the caller kills the worker before the cancellation propagates.
    """
    if getattr(func, "__module__", None) == "__main__":
        raise ValueError(f"{func.__qualname__} is defined in __main__: a worker can only run a function it can "
                         "import by name (move it to a module)")
    ctx = _forkserver(preload)
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_worker_main, args=(writer, func, args, kwargs, limits), daemon=True)
    kind, value = "died", None
    try:
        with anyio.fail_after(limits.wall_seconds):
            # Starting hands the arguments to the forkserver (a 20 MB PDF is a few ms); a thread keeps the loop free.
            await anyio.to_thread.run_sync(_start, process)
            _live.add(process.pid)
            writer.close()  # ours; the worker holds its own copy, so its exit is an end-of-file here
            await anyio.wait_readable(reader.fileno())
            with contextlib.suppress(EOFError, OSError):  # died before answering: judged by its exit code below
                kind, value = await anyio.to_thread.run_sync(reader.recv)
    except TimeoutError:
        _kill(process)
        raise LimitExceeded("time", limits) from None
    except BaseException:  # cancelled (or anything else): the worker must not outlive the request
        _kill(process)
        raise
    finally:
        writer.close()
        reader.close()
        with anyio.CancelScope(shield=True):
            if process.pid is not None:
                await anyio.to_thread.run_sync(process.join, 5)  # its exit code first: it tells why it died
                if kind == "died":
                    _kill(process)  # what it started may still run
                _live.discard(process.pid)
    if kind == "ok":
        return value
    if kind == "memory":
        raise LimitExceeded("memory", limits)
    if kind == "error":
        raise _rebuild(*value)
    reason = _exit_reason(process.exitcode)
    if reason is not None:
        raise LimitExceeded(reason, limits)
    raise WorkerFailed(f"The worker stopped without an answer (exit code {process.exitcode}).")
