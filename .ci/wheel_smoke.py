#!/usr/bin/env python3
"""Install the built wheel into a clean venv outside the checkout (not editable) and use it as a user would.

    python .ci/wheel_smoke.py [WHEEL]      # default dist/cleavr_mcp-<version>-py3-none-any.whl (`make dist`)

In a temporary folder with nothing of the repository on sys.path: `pip install WHEEL`, check the package is imported
from the venv, run `cleavr-mcp serve` over stdio (initialize, tools/list, quote_commission: .ci/mcp_stdio_check.py,
run by the clean venv's Python) and `cleavr-mcp demo`, with a clean environment (no CLEAVR_MCP_* from the caller,
an empty HOME). Exit 1, loudly, at the first step that fails.
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


def fail(message: str) -> None:
    print(f"wheel smoke FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        fail(f"`{' '.join(map(str, cmd))}` exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def main(argv: list[str]) -> int:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    wheel = Path(argv[1]).resolve() if len(argv) > 1 else REPO / "dist" / f"cleavr_mcp-{version}-py3-none-any.whl"
    if not wheel.exists():
        fail(f"{wheel} not found: run `make dist` first")
    root = Path(tempfile.mkdtemp(prefix="cleavr-wheel-smoke-"))
    try:
        if root.resolve().is_relative_to(REPO):
            fail(f"the clean venv must live outside the checkout, not in {root}")
        venv, home, data = root / "venv", root / "home", root / "data"
        home.mkdir()
        run([sys.executable, "-m", "venv", str(venv)])
        python, cli = venv / "bin" / "python", venv / "bin" / "cleavr-mcp"
        run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], cwd=root)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CLEAVR_MCP_", "PYTHON", "VIRTUAL_ENV"))}
        env.update(HOME=str(home), CLEAVR_MCP_DATA_DIR=str(data), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")

        where = run([str(python), "-c", "import cleavr_mcp, json, importlib.metadata as m; print(json.dumps("
                     "[cleavr_mcp.__file__, m.distribution('cleavr-mcp').read_text('direct_url.json')]))"],
                    cwd=root, env=env)
        module_file, direct_url = json.loads(where.stdout)
        if not Path(module_file).resolve().is_relative_to(venv.resolve()):
            fail(f"cleavr_mcp imported from {module_file}, not from the clean venv")
        if direct_url and json.loads(direct_url).get("dir_info", {}).get("editable"):
            fail("the wheel was installed editable")
        print(f"wheel smoke: {wheel.name} installed in {venv} (module {module_file})")

        (root / "env.json").write_text(json.dumps(env))
        check = run([str(python), str(REPO / ".ci" / "mcp_stdio_check.py"), "--cwd", str(root), "--env-json",
                     str(root / "env.json"), "--", str(cli), "serve"], cwd=root, env=env)
        print(f"wheel smoke: {check.stdout.strip()}")

        demo = run([str(cli), "demo"], cwd=root, env=env, timeout=300)
        if "submit" not in demo.stdout.lower():
            fail(f"`cleavr-mcp demo` printed no tour:\n{demo.stdout[-2000:]}")
        print(f"wheel smoke: `cleavr-mcp demo` passed ({len(demo.stdout.splitlines())} lines)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("wheel smoke: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
