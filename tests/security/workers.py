"""Functions the limited-worker tests run in a worker process (importable by name, as `run_limited` requires)."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def burn_and_spawn(pid_file: str) -> None:
    """Start a CPU-burning child (like Tesseract), write both pids, then burn CPU here too, forever."""
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    with open(pid_file + ".tmp", "w") as fh:
        fh.write(f"{os.getpid()} {child.pid}")
    os.replace(pid_file + ".tmp", pid_file)
    while True:
        pass


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def echo(value):
    return value


def fail_with(reason: str, message: str):
    from cleavr_mcp.pdfcheck import InvalidFileError

    raise InvalidFileError(reason, message)


def print_and_read_stdin(text: str) -> str:
    import sys

    print(text, flush=True)
    return sys.stdin.read()
