"""The repository stands on its own: nothing in it reads or names the reference folder kept beside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Assembled from pieces so this file does not match itself.
OUTSIDE_REFERENCE = re.compile(r"\.\./" + "shared" + r"|" + "shared" + r"/(corpus|api|notes|seeds)")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode == 0:
        names = [n for n in listed.stdout.decode().split("\0") if n]
    else:  # an unpacked sdist has no git metadata: scan what is there
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file() and ".venv" not in p.parts]
    return [REPO / n for n in names if not n.endswith((".pdf", ".png", ".ttf", ".sqlite3"))]


def test_no_file_refers_to_the_reference_folder_outside_the_repository():
    offenders = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        offenders += [f"{path.relative_to(REPO)}:{i}" for i, line in enumerate(text.splitlines(), 1)
                      if OUTSIDE_REFERENCE.search(line)]
    assert not offenders, f"copy what you need into the repository instead of pointing outside it: {offenders}"


def test_the_api_contracts_are_in_the_repository():
    for name in ("cleavr-connect.md", "cleverinvo.md"):
        text = (REPO / "docs" / "api" / name).read_text(encoding="utf-8")
        assert "[doc]" in text
    assert "[decided]" in (REPO / "docs" / "api" / "cleavr-connect.md").read_text(encoding="utf-8")
