"""System dependencies that some tests need (Tesseract, PostgreSQL, Chromium, Node).

Without one, its tests skip with the reason and the command that installs it. CI sets
CLEAVR_MCP_REQUIRE_SYSTEM_DEPS=1, which turns each such skip into a failure: nothing is skipped in CI.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

STRICT_ENV = "CLEAVR_MCP_REQUIRE_SYSTEM_DEPS"

# name -> (what it is for, install command on Debian/Ubuntu)
SYSTEM_DEPS: dict[str, tuple[str, str]] = {
    "tesseract": ("OCR of scanned PDFs", "apt-get install tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng"),
    "chromium": ("real-browser tests of the approval page and the Apps views", "apt-get install chromium"),
    "postgres": ("the PostgreSQL state backend", "apt-get install postgresql"),
    "node": ("the MCP conformance suite, the Inspector, the bundle and the Apps views build", "apt-get install nodejs npm"),
}


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes"}


def missing(name: str, detail: str = "") -> None:
    """Skip (or, in CI, fail) the current test because system dependency `name` is absent."""
    purpose, install = SYSTEM_DEPS[name]
    reason = f"missing system dependency {name} ({purpose}){': ' + detail if detail else ''}; install it with: {install}"
    if strict():
        pytest.fail(f"{reason} [{STRICT_ENV} is set, so a skip is a failure]", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str:
    """Debian's Chromium (Playwright's own browser download is not reachable here)."""
    for candidate in (os.environ.get("CLEAVR_MCP_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    missing("chromium")
    raise AssertionError("unreachable")


def postgres_bindir() -> Path:
    """The directory holding initdb/pg_ctl/postgres (Debian puts them outside PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for version_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (version_dir / "initdb").exists():
            return version_dir
    missing("postgres")
    raise AssertionError("unreachable")


def require_executable(name: str, executable: str | None = None) -> str:
    path = shutil.which(executable or name)
    if not path:
        missing(name)
    return path  # type: ignore[return-value]


def require_tesseract() -> None:
    """Tesseract on PATH with the French and English data the extractor asks for."""
    from cleavr_mcp.extraction.reading import OCR_LANG, tesseract_available

    if not tesseract_available(OCR_LANG):
        missing("tesseract", f"needs the binary on PATH with the {OCR_LANG} language data")
