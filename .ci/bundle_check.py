#!/usr/bin/env python3
"""Check the MCP Bundle the way Claude Desktop uses it.

    python .ci/bundle_check.py [BUNDLE]     # default dist/cleavr-mcp-<version>.mcpb (`make bundle`)

1. `mcpb unpack` the bundle into a temporary folder and `mcpb validate` the manifest it carries (official CLI,
   pinned in .ci/npm);
2. resolve the manifest's `mcp_config` with the same library function the hosts use (getMcpConfigForManifest from
   @anthropic-ai/mcpb): ${__dirname} is the unpacked folder, ${user_config.…} the settings a user filled in (two
   invoice folders chosen, everything else left to its default);
3. start the server exactly as resolved (`uv run …` from the bundle) and, over stdio, check initialize, tools/list
   and prompts/list against the manifest, quote_commission, and that extract_pdf reads a PDF in a chosen folder
   and refuses one outside them (.ci/mcp_stdio_check.py).
Prints the bundle size. Exit 1, loudly, at the first step that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NPM_TOOLS = Path(os.environ.get("NPM_TOOLS_DIR", REPO / ".cache" / "npm-tools"))
NODE_BIN = NPM_TOOLS / "node_modules" / "node" / "bin"
MCPB = NPM_TOOLS / "node_modules" / ".bin" / "mcpb"
SAMPLE_PDF = REPO / "tests" / "corpus" / "invoices" / "real" / "free_fiber.pdf"

RESOLVE_JS = """
import { readFileSync } from "node:fs";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";
const [manifestPath, extensionPath, userConfigJson, home] = process.argv.slice(1);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const config = await getMcpConfigForManifest({
  manifest, extensionPath, userConfig: JSON.parse(userConfigJson), pathSeparator: "/",
  systemDirs: { HOME: home, DESKTOP: home + "/Desktop", DOCUMENTS: home + "/Documents", DOWNLOADS: home + "/Downloads" },
});
if (!config) { console.error("getMcpConfigForManifest returned nothing (required settings missing?)"); process.exit(1); }
console.log(JSON.stringify(config));
"""


def fail(message: str) -> None:
    print(f"bundle check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}", **kwargs.pop("env", {})}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, **kwargs)
    if result.returncode != 0:
        fail(f"`{' '.join(map(str, cmd))}` exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def main(argv: list[str]) -> int:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    bundle = Path(argv[1]).resolve() if len(argv) > 1 else REPO / "dist" / f"cleavr-mcp-{version}.mcpb"
    if not bundle.exists():
        fail(f"{bundle} not found: run `make bundle` first")
    if not MCPB.exists():
        fail(f"{MCPB} not found: run `bash .ci/npm_tools.sh`")
    uv = shutil.which("uv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if uv is None:
        fail("uv not found (dev extra of pyproject.toml)")
    root = Path(tempfile.mkdtemp(prefix="cleavr-bundle-check-"))
    try:
        ext, home = root / "extension", root / "home"
        home.mkdir()
        run([str(MCPB), "unpack", str(bundle), str(ext)])
        manifest_path = ext / "manifest.json"
        run([str(MCPB), "validate", str(manifest_path)])
        manifest = json.loads(manifest_path.read_text())
        print(f"bundle check: {bundle.name} ({bundle.stat().st_size / 1024:.0f} KiB) unpacked and validated, "
              f"manifest_version {manifest['manifest_version']}, server type {manifest['server']['type']}")

        invoices, more_invoices, outside = root / "Invoices", root / "More invoices", root / "Elsewhere"
        for folder in (invoices, more_invoices, outside):
            folder.mkdir()
        shutil.copy2(SAMPLE_PDF, more_invoices / "invoice.pdf")  # in the second folder: both reach the server
        shutil.copy2(SAMPLE_PDF, outside / "invoice.pdf")
        user_config = {"allowed_folders": [str(invoices), str(more_invoices)]}
        resolved = json.loads(run([str(NODE_BIN / "node"), "--input-type=module", "-e", RESOLVE_JS,
                                   str(manifest_path), str(ext), json.dumps(user_config), str(home)],
                                  cwd=NPM_TOOLS).stdout)
        print(f"bundle check: mcp_config resolves to `{resolved['command']} {' '.join(resolved.get('args', []))}`")

        # What the host gives every server (PATH with uv on it, HOME), then the manifest's env on top. The uv cache
        # is shared with the build so the check does not download every dependency again; Python comes from PATH.
        cache = run([uv, "cache", "dir"]).stdout.strip()
        base = {"PATH": f"{Path(uv).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(home),
                "UV_CACHE_DIR": cache, "UV_PYTHON_DOWNLOADS": "never",
                "UV_NATIVE_TLS": "1",  # the system's CA store, as pip uses it (a TLS-inspecting proxy has its own CA)
                **{k: v for k, v in os.environ.items() if k in ("SSL_CERT_FILE", "SSL_CERT_DIR")}}
        (root / "env.json").write_text(json.dumps({**base, **resolved.get("env", {})}))
        check = run([sys.executable, str(REPO / ".ci" / "mcp_stdio_check.py"), "--env-json", str(root / "env.json"),
                     "--cwd", str(home), "--expect-manifest", str(manifest_path),
                     "--readable-pdf", str(more_invoices / "invoice.pdf"), "--refused-pdf", str(outside / "invoice.pdf"),
                     "--", resolved["command"], *resolved.get("args", [])], timeout=600)
        print(f"bundle check: {check.stdout.strip()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("bundle check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
