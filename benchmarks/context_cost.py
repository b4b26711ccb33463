"""Context cost of the tool list: bytes and cl100k tokens per tool, of what a model is shown (name + description +
inputSchema) and of the output schemas, against the budgets in cleavr_mcp/server/schemas.py.

Tokens come from js-tiktoken (cl100k ranks ship with it), run on the Node pinned in .ci/npm: install both with
`bash .ci/npm_tools.sh`. Without them the byte figures are still printed and tokens show as "-".
Measured on the default toolset of the embedded sandbox (every toolset, CleverInvo included), wire form.

    .venv/bin/python benchmarks/context_cost.py [--json FILE] [--check]

--check (CI): exit 1 when the tokenizer is missing or a budget is exceeded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cleavr_mcp.server.schemas import (  # noqa: E402
    OUTPUT_BUDGET_BYTES,
    SHOWN_BUDGET_BYTES,
    SHOWN_PER_TOOL_BYTES,
    shown_to_model,
)


def _node_modules() -> Path:
    return Path(os.environ.get("NPM_TOOLS_DIR", ROOT / ".cache" / "npm-tools")) / "node_modules"


def count_tokens(texts: list[str]) -> list[int] | None:
    """cl100k token counts, or None when the pinned Node / js-tiktoken are not installed."""
    modules = _node_modules()
    node = modules / "node" / "bin" / "node"
    if not node.exists() or not (modules / "js-tiktoken").exists():
        return None
    done = subprocess.run([str(node), str(Path(__file__).with_name("count_tokens.cjs")), str(modules)],
                          input=json.dumps(texts), capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def compact_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def listed_tools() -> tuple[list[dict], str]:
    from mcp import Client

    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server

    with tempfile.TemporaryDirectory() as tmp:
        server = build_server(Settings(_env_file=None, data_dir=Path(tmp)))
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            instructions = client.instructions or ""
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools], instructions


async def measure() -> dict:
    tools, instructions = await listed_tools()
    shown = {t["name"]: compact_json(shown_to_model(t)) for t in tools}
    output = {t["name"]: compact_json(t.get("outputSchema") or {}) for t in tools}
    names = list(shown)
    tokens = count_tokens([shown[n] for n in names] + [output[n] for n in names] + [instructions])
    per_tool = {}
    for i, name in enumerate(names):
        per_tool[name] = {
            "shown_bytes": len(shown[name].encode()), "output_bytes": len(output[name].encode()),
            "shown_tokens": tokens[i] if tokens else None,
            "output_tokens": tokens[len(names) + i] if tokens else None,
        }
    per_tool = dict(sorted(per_tool.items(), key=lambda kv: -kv[1]["shown_bytes"]))

    def total(key: str) -> int | None:
        values = [v[key] for v in per_tool.values()]
        return None if None in values else sum(values)

    return {
        "tools": len(tools), "tokenizer": "cl100k (js-tiktoken)" if tokens else None,
        "shown_bytes": total("shown_bytes"), "shown_tokens": total("shown_tokens"),
        "output_bytes": total("output_bytes"), "output_tokens": total("output_tokens"),
        "largest_shown": max(per_tool.items(), key=lambda kv: kv[1]["shown_bytes"])[0],
        "instructions_bytes": len(instructions.encode()), "instructions_tokens": tokens[-1] if tokens else None,
        "budgets": {"shown_bytes": SHOWN_BUDGET_BYTES, "shown_per_tool_bytes": SHOWN_PER_TOOL_BYTES,
                    "output_bytes": OUTPUT_BUDGET_BYTES},
        "per_tool": per_tool,
    }


def report(r: dict) -> str:
    def tok(value) -> str:
        return "-" if value is None else f"{value:,}"

    lines = [f"{'tool':28s} {'shown B':>8s} {'tokens':>7s} {'output B':>9s} {'tokens':>7s}"]
    for name, v in r["per_tool"].items():
        flag = "  OVER 3 KB" if v["shown_bytes"] > SHOWN_PER_TOOL_BYTES else ""
        lines.append(f"{name:28s} {v['shown_bytes']:8,d} {tok(v['shown_tokens']):>7s} {v['output_bytes']:9,d} "
                     f"{tok(v['output_tokens']):>7s}{flag}")
    lines.append(f"{'total (' + str(r['tools']) + ' tools)':28s} {r['shown_bytes']:8,d} {tok(r['shown_tokens']):>7s} "
                 f"{r['output_bytes']:9,d} {tok(r['output_tokens']):>7s}")
    lines.append(f"budgets: shown ≤ {SHOWN_BUDGET_BYTES:,} B in all, ≤ {SHOWN_PER_TOOL_BYTES:,} B per tool; output "
                 f"schemas ≤ {OUTPUT_BUDGET_BYTES:,} B in all")
    lines.append(f"server instructions (the workflow, stated once): {r['instructions_bytes']:,} B, "
                 f"{tok(r['instructions_tokens'])} tokens")
    if r["tokenizer"] is None:
        lines.append("tokens: not counted (run `bash .ci/npm_tools.sh` for the pinned Node + js-tiktoken)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--check", action="store_true", help="fail without tokens or over a budget")
    args = parser.parse_args()
    r = anyio.run(measure)
    print(report(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    if args.check:
        over = [n for n, v in r["per_tool"].items() if v["shown_bytes"] > SHOWN_PER_TOOL_BYTES]
        problems = [p for p, bad in (
            ("tokens not counted (bash .ci/npm_tools.sh)", r["tokenizer"] is None),
            (f"shown {r['shown_bytes']:,} B > {SHOWN_BUDGET_BYTES:,} B", r["shown_bytes"] > SHOWN_BUDGET_BYTES),
            (f"output schemas {r['output_bytes']:,} B > {OUTPUT_BUDGET_BYTES:,} B", r["output_bytes"] > OUTPUT_BUDGET_BYTES),
            (f"over {SHOWN_PER_TOOL_BYTES:,} B: {', '.join(over)}", bool(over))) if bad]
        if problems:
            print("context cost: " + "; ".join(problems), file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
