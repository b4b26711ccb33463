#!/usr/bin/env python3
"""Start an MCP server command over stdio and check it answers as cleavr-mcp: initialize, tools/list, prompts/list
and a quote_commission call with the documented worked example (5000.00, 60 days → 15.90 %, 795.00, net 4205.00).

    python .ci/mcp_stdio_check.py [--cwd DIR] [--env-json FILE] [--expect-manifest MANIFEST] -- COMMAND [ARG…]

Needs only the `mcp` package (any venv where cleavr-mcp's dependencies are installed). --env-json gives the whole
environment of the server (nothing inherited); --expect-manifest also checks that the tools and prompts the server
lists are exactly those the MCP Bundle manifest declares; --readable-pdf / --refused-pdf check that extract_pdf reads a
PDF inside the allowed folders and refuses one outside them (PATH_NOT_ALLOWED). Exit 1, saying what differed, on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

# Generous: a uv-type bundle installs its dependencies on first start.
START_TIMEOUT_SECONDS = 300


class CheckFailed(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


async def check(params: StdioServerParameters, manifest: dict | None, readable: list[Path], refused: list[Path]) -> str:
    with anyio.fail_after(START_TIMEOUT_SECONDS):
        # legacy mode: the classic `initialize` handshake, as Claude Desktop and the other stdio clients send it
        async with Client(params, mode="legacy") as client:
            info = client.server_info
            expect(info is not None and info.name == "cleavr-mcp", f"initialize: server info {info!r}, expected "
                   "cleavr-mcp")
            tools = {t.name for t in (await client.list_tools()).tools}
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            expect("quote_commission" in tools, f"tools/list has no quote_commission: {sorted(tools)}")
            if manifest is not None:
                declared = {t["name"] for t in manifest.get("tools", [])}
                expect(declared == tools, f"tools/list and manifest.json differ: only served {sorted(tools - declared)}"
                       f", only declared {sorted(declared - tools)}")
                declared_prompts = {p["name"] for p in manifest.get("prompts", [])}
                expect(declared_prompts == prompts, f"prompts/list {sorted(prompts)} != manifest.json "
                       f"{sorted(declared_prompts)}")
            quote = await client.call_tool("quote_commission", {"amount": "5000.00", "days_overdue": 60})
            expect(not quote.is_error, f"quote_commission failed: {quote.content}")
            got = quote.structured_content or {}
            want = {"rate_percentage": "15.90", "commission_amount": "795.00", "net_recovery": "4205.00"}
            expect({k: got.get(k) for k in want} == want, f"quote_commission: {got}, expected {want}")
            protocol = client.protocol_version
            # Package data at run time: each ui:// view (an HTML file shipped in the package) reads back whole.
            views = [r for r in (await client.list_resources()).resources if str(r.uri).startswith("ui://")]
            for view in views:
                contents = (await client.read_resource(view.uri)).contents
                html = "".join(getattr(c, "text", "") or "" for c in contents)
                expect("<html" in html.lower() and len(html) > 1000, f"view {view.uri} reads back as {html[:200]!r}")
            if readable or refused:
                # the sandbox names its demo creditor in the server instructions
                found = re.search(r"usr_clv_[A-Za-z0-9_]+", client.instructions or "")
                expect(found is not None, "no sandbox demo creditor in the server instructions")
                for path in readable + refused:
                    result = await client.call_tool("extract_pdf", {"user_id": found.group(0),
                                                                    "file": {"path": str(path)}})
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    if path in readable:
                        expect(not result.is_error, f"extract_pdf could not read {path} in an allowed folder: {text}")
                    else:
                        expect(result.is_error and "PATH_NOT_ALLOWED" in text,
                               f"extract_pdf did not refuse {path}, outside the allowed folders: {text[:300]}")
    files = f", {len(readable)} PDF(s) read in allowed folders, {len(refused)} refused outside" if readable or refused else ""
    return (f"{info.name} {info.version} (protocol {protocol}): {len(tools)} tools, {len(prompts)} prompts, "
            f"quote 5000.00 at 60 days = 795.00, {len(views)} ui:// view(s) read back{files}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cwd", default=None)
    parser.add_argument("--env-json", type=Path, default=None)
    parser.add_argument("--expect-manifest", type=Path, default=None)
    parser.add_argument("--readable-pdf", type=Path, action="append", default=[])
    parser.add_argument("--refused-pdf", type=Path, action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the server command after --")
    env = json.loads(args.env_json.read_text()) if args.env_json else None
    manifest = json.loads(args.expect_manifest.read_text()) if args.expect_manifest else None
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=args.cwd)
    try:
        summary = anyio.run(check, params, manifest, args.readable_pdf, args.refused_pdf)
    except CheckFailed as exc:
        print(f"stdio check FAILED ({' '.join(command)}): {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the server did not start, crashed or timed out: say so, with the command
        print(f"stdio check FAILED ({' '.join(command)}): {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"stdio check: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
