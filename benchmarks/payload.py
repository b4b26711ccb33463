"""tools/list payload: bytes (≈ tokens at 4 bytes/token) of the default toolset, in total and per tool.

Measured on the wire form a client receives (camelCase JSON, no nulls) from an in-memory client, both protocol eras.

    .venv/bin/python benchmarks/payload.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def json_bytes(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def wire_size(tool) -> int:
    return json_bytes(tool.model_dump(mode="json", by_alias=True, exclude_none=True))


async def measure() -> dict:
    from mcp import Client

    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server

    with tempfile.TemporaryDirectory() as tmp:
        server = build_server(Settings(_env_file=None, data_dir=Path(tmp)))
        per_tool: dict[str, int] = {}
        totals = {}
        for mode in ("auto", "legacy"):
            async with Client(server, mode=mode) as client:
                tools = (await client.list_tools()).tools
            sizes = {t.name: wire_size(t) for t in tools}
            totals[mode] = sum(sizes.values())
            if not per_tool:
                per_tool = sizes
                input_bytes = sum(json_bytes(t.input_schema) for t in tools)
                output_bytes = sum(json_bytes(t.output_schema) for t in tools if t.output_schema)
    total = totals["auto"]
    return {
        "tools": len(per_tool),
        "tools_list_bytes": total,
        "tools_list_tokens": total // 4,
        "bytes_per_tool_mean": total / len(per_tool),
        "input_schema_bytes": input_bytes,
        "output_schema_bytes": output_bytes,
        "per_tool_bytes": dict(sorted(per_tool.items(), key=lambda kv: -kv[1])),
        "legacy_equal": totals["auto"] == totals["legacy"],
    }


def main() -> None:
    result = anyio.run(measure)
    print(f"tools/list: {result['tools']} tools, {result['tools_list_bytes']} bytes ≈ {result['tools_list_tokens']} "
          f"tokens (mean {result['bytes_per_tool_mean']:.0f} bytes/tool; input schemas {result['input_schema_bytes']}, "
          f"output schemas {result['output_schema_bytes']} bytes)")
    for name, size in result["per_tool_bytes"].items():
        print(f"  {name:28s} {size:7d} bytes ≈ {size // 4:6d} tokens")


if __name__ == "__main__":
    main()
