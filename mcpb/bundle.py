#!/usr/bin/env python3
"""The cleavr-mcp MCP Bundle (.mcpb, for Claude Desktop): its manifest, its icon, and the build.

    python mcpb/bundle.py manifest          # print the manifest.json the bundle gets
    python mcpb/bundle.py icon              # redraw icon.png
    python mcpb/bundle.py build [--out DIR] # `make bundle`: stage, lock, `mcpb validate`, `mcpb pack`

manifest.in.json holds what people write (names, settings, mcp_config); the build adds the version and Python
range from pyproject.toml and the tools and prompts as the server lists them, so the lists cannot drift.

The bundle is of the manifest spec's `uv` type: it carries the project's wheel (built by `make dist`), a
pyproject.toml whose only dependency is that wheel, and a uv.lock resolved at build time, so the host installs
exactly the versions the bundle was built and checked with. `mcpb` is the official CLI, pinned in .ci/npm.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MANIFEST_IN = HERE / "manifest.in.json"
ICON = HERE / "icon.png"
LAUNCHER = HERE / "server" / "main.py"
NPM_TOOLS = Path(os.environ.get("NPM_TOOLS_DIR", REPO / ".cache" / "npm-tools"))


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    match = re.match(r"(.+?[.!?])(?=\s+[A-Z(`]|$)", paragraph)  # a full stop before a capital: not "e.g. a"
    return match.group(1) if match else paragraph


def served_capabilities() -> tuple[list[dict], list[dict]]:
    """Tools and prompts as the server lists them on the embedded sandbox (the bundle's default settings)."""
    sys.path.insert(0, str(REPO))
    import anyio
    from mcp import Client

    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server

    async def listing(data_dir: Path) -> tuple[list, list]:
        server = build_server(Settings(_env_file=None, data_dir=data_dir))
        async with Client(server) as client:
            return (await client.list_tools()).tools, (await client.list_prompts()).prompts

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("CLEAVR_MCP_")}
    try:
        with tempfile.TemporaryDirectory(prefix="cleavr-mcpb-") as tmp:
            tools, prompts = anyio.run(listing, Path(tmp))
    finally:
        os.environ.update(saved)
    tool_entries = [{"name": t.name, "description": first_sentence(t.description or t.title or t.name)}
                    for t in sorted(tools, key=lambda t: t.name)]
    prompt_entries = []
    for p in sorted(prompts, key=lambda p: p.name):
        names = [a.name for a in p.arguments or []]
        # The server writes each prompt's full steps (some read the receivable first); the manifest carries the
        # request it stands for, with the arguments as the spec's ${arguments.…} placeholders.
        text = f"{first_sentence(p.description or p.name)}"
        if names:
            text += "\n\n" + "\n".join(f"{n}: ${{arguments.{n}}}" for n in names)
        prompt_entries.append({"name": p.name, "description": first_sentence(p.description or p.name),
                               "arguments": names, "text": text})
    return tool_entries, prompt_entries


def manifest() -> dict:
    """manifest.in.json completed with the version, the Python range and the server's tools and prompts."""
    written = json.loads(MANIFEST_IN.read_text())
    tools, prompts = served_capabilities()
    meta = project()
    built = {"$schema": written.pop("$schema"), "manifest_version": written.pop("manifest_version"),
             "name": written.pop("name"), "version": meta["version"], **written, "tools": tools, "prompts": prompts}
    built["compatibility"]["runtimes"]["python"] = meta["requires-python"]
    return built


def draw_icon() -> None:
    """A 512×512 PNG (the size Claude Desktop recommends): an invoice sheet with a euro sign and a tick."""
    from PIL import Image, ImageDraw

    size = 512
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((16, 16, size - 16, size - 16), radius=96, fill=(15, 76, 92, 255))
    d.polygon([(136, 96), (316, 96), (376, 156), (376, 416), (136, 416)], fill=(255, 255, 255, 255))
    d.polygon([(316, 96), (316, 156), (376, 156)], fill=(200, 214, 218, 255))
    for y in (300, 336, 372):  # invoice lines
        d.rounded_rectangle((168, y, 300, y + 14), radius=7, fill=(176, 190, 197, 255))
    # euro sign: an open arc and two bars
    d.arc((176, 140, 300, 264), start=40, end=320, fill=(15, 76, 92, 255), width=22)
    d.rectangle((160, 180, 262, 196), fill=(15, 76, 92, 255))
    d.rectangle((160, 210, 262, 226), fill=(15, 76, 92, 255))
    # the tick of a recovered debt
    d.ellipse((300, 300, 436, 436), fill=(46, 160, 67, 255))
    d.line([(332, 370), (360, 398), (408, 338)], fill=(255, 255, 255, 255), width=18, joint="curve")
    img.save(ICON, optimize=True)


def mcpb(*args: str) -> None:
    node_bin = NPM_TOOLS / "node_modules" / "node" / "bin"
    cli = NPM_TOOLS / "node_modules" / ".bin" / "mcpb"
    if not cli.exists():
        subprocess.run(["bash", str(REPO / ".ci" / "npm_tools.sh")], check=True)
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([str(cli), *args], check=True, env=env)


def build(out: Path) -> Path:
    meta = project()
    version = meta["version"]
    wheel = REPO / "dist" / f"cleavr_mcp-{version}-py3-none-any.whl"
    if not wheel.exists():
        sys.exit(f"{wheel.relative_to(REPO)} not found: run `make dist` first")
    built = manifest()
    stage = REPO / "build" / "mcpb"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "server").mkdir(parents=True)
    (stage / "wheels").mkdir()
    (stage / "manifest.json").write_text(json.dumps(built, indent=2, ensure_ascii=False) + "\n")
    shutil.copy2(ICON, stage / "icon.png")
    shutil.copy2(LAUNCHER, stage / "server" / "main.py")
    shutil.copy2(wheel, stage / "wheels" / wheel.name)
    (stage / "README.md").write_text(
        "# cleavr-mcp (MCP Bundle)\n\nDebt recovery through Cleavr Connect, for Claude Desktop. Install by opening the "
        ".mcpb file; fill in the settings (leave them empty to try the built-in sandbox).\n")
    (stage / "pyproject.toml").write_text(f'''[project]
name = "cleavr-mcp-bundle"
version = "{version}"
description = "Runs cleavr-mcp {version} from the wheel carried in this MCP Bundle"
requires-python = "{meta["requires-python"]}"
dependencies = ["cleavr-mcp=={version}"]

[tool.uv]
package = false

[tool.uv.sources]
cleavr-mcp = {{ path = "wheels/{wheel.name}" }}
''')
    uv = shutil.which("uv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if uv is None:
        sys.exit("uv not found: `make .venv/.installed` installs it (dev extra)")
    subprocess.run([uv, "lock", "--quiet", "--directory", str(stage)], check=True)
    mcpb("validate", str(stage / "manifest.json"))
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / f"cleavr-mcp-{version}.mcpb"
    bundle.unlink(missing_ok=True)
    mcpb("pack", str(stage), str(bundle))
    print(f"bundle: {bundle.relative_to(REPO) if bundle.is_relative_to(REPO) else bundle} "
          f"({bundle.stat().st_size / 1024:.0f} KiB)")
    return bundle


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("manifest")
    sub.add_parser("icon")
    sub.add_parser("build").add_argument("--out", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)
    if args.command == "manifest":
        print(json.dumps(manifest(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "icon":
        draw_icon()
        return 0
    build(args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
