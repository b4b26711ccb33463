#!/usr/bin/env python3
"""Check the wheel and the sdist in dist/ carry every file of the package, package data included.

    python .ci/dist_check.py [DIST_DIR]      # default dist/

Every file under cleavr_mcp/ on disk (except caches) must be in the wheel, and every file git tracks must be in
the sdist: a page, font, PDF or asset the server reads at run time and that the build leaves out fails here, loudly,
instead of in a user's install. Prints the sizes. Exit 1 on any missing file.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "cleavr_mcp"
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"}


def package_files() -> set[str]:
    return {p.relative_to(REPO).as_posix() for p in (REPO / PACKAGE).rglob("*")
            if p.is_file() and not IGNORED_PARTS & set(p.parts) and p.suffix not in {".pyc", ".pyo"}}


def tracked_files() -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.decode()
    return {name for name in out.split("\0") if name and (REPO / name).is_file()}


def main(argv: list[str]) -> int:
    dist = Path(argv[1]) if len(argv) > 1 else REPO / "dist"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    wheel = dist / f"{PACKAGE}-{version}-py3-none-any.whl"
    sdist = dist / f"{PACKAGE}-{version}.tar.gz"
    problems = [f"{path} was not built (run `make dist`)" for path in (wheel, sdist) if not path.exists()]
    if problems:
        print("dist check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1

    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing_wheel = sorted(package_files() - in_wheel)
    with tarfile.open(sdist) as tar:
        prefix = f"{PACKAGE}-{version}/"
        in_sdist = {name.removeprefix(prefix) for name in tar.getnames()}
    missing_sdist = sorted(tracked_files() - in_sdist)
    entry_points = zipfile.ZipFile(wheel).read(f"{PACKAGE}-{version}.dist-info/entry_points.txt").decode()

    problems = [f"wheel lacks {name}" for name in missing_wheel] + [f"sdist lacks {name}" for name in missing_sdist]
    if "cleavr-mcp = cleavr_mcp.cli:main" not in entry_points:
        problems.append("wheel has no `cleavr-mcp` console script")
    data = sorted(n for n in in_wheel if n.startswith(PACKAGE + "/") and not n.endswith(".py"))
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1024:.0f} KiB, {len(in_wheel)} files, package data: "
          f"{', '.join(data) or 'none'}")
    print(f"sdist {sdist.name}: {sdist.stat().st_size / 1024:.0f} KiB, {len(in_sdist)} files")
    if problems:
        print("dist check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("dist check: every package file is in the wheel, every tracked file in the sdist")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
