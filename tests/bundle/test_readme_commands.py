"""Every command the README shows works as typed: `cleavr-mcp …` through .venv/bin, accepted by the real CLI
parser, and every `make X` a target of the Makefile."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cleavr_mcp.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
# Inline code spans and the lines of fenced blocks: where the README shows something to type.
SNIPPETS = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.S)) + [
    line for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S) for line in block.splitlines()]
COMMANDS = [s for s in SNIPPETS if re.search(r"(^|[\s/])cleavr-mcp\s+[a-z]", s)]
MAKE = [m for s in SNIPPETS for m in re.findall(r"\bmake ([a-z][\w.-]*)", s)]


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 10 and {"run", "test", "bundle", "dist"} <= set(MAKE)


@pytest.mark.parametrize("snippet", COMMANDS)
def test_cleavr_mcp_commands_run_from_the_venv_and_parse(snippet):
    program, _, rest = snippet.partition("cleavr-mcp ")
    assert program.endswith(".venv/bin/"), f"`{snippet}`: not on PATH after `make`, write .venv/bin/cleavr-mcp"
    argv = shlex.split(re.sub(r"\[[^\]]*\]", "", rest.split("#")[0]))  # optional parts in [brackets] left out
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`{snippet}`: the CLI refuses it (exit {exc.code})")


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w.-]+):", (REPO / "Makefile").read_text(), flags=re.M))
    assert set(MAKE) <= targets, f"README names make targets that do not exist: {sorted(set(MAKE) - targets)}"
