"""Real third-party MCP clients against cleavr-mcp (run by .ci/run; `make conformance`).

1. The official conformance suite (npm @modelcontextprotocol/conformance), `--suite all` at both protocol versions,
   against `cleavr-mcp serve --transport http` on the embedded sandbox. The checked-in baselines
   (.ci/conformance/expected-failures-<version>.yml) list only fixture-specific checks; the suite itself fails on an
   unexpected failure *and* on a baseline entry that passes (stale), so neither can drift.
2. The MCP Inspector CLI (npm @modelcontextprotocol/inspector --cli) over stdio, both protocol eras: list tools,
   call quote_commission, the no-elicitation confirmation fallback, an isError result, resources, prompts; and
   tools/list over HTTP; the MCP Apps ui:// views (listed as text/html;profile=mcp-app, each read back).

The tools are installed (pinned) by .ci/npm_tools.sh into .cache/npm-tools. Exit status 0 only when every check
passed. Inspector checks can be listed in INSPECTOR_EXPECTED_FAILURES (with the reason); such a check that passes
fails the run too (remove the entry), like the conformance baselines.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(os.environ.get("NPM_TOOLS_DIR", ROOT / ".cache" / "npm-tools"))
VENV_BIN = Path(sys.executable).parent
SERVER = [str(VENV_BIN / "cleavr-mcp"), "serve"]
SPEC_VERSIONS = ("2025-11-25", "2026-07-28")

# check name -> why it is expected to fail today (an entry that passes fails the run: remove it then).
INSPECTOR_EXPECTED_FAILURES: dict[str, str] = {
}


def tool_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEAVR_MCP_")}
    bins = [str(TOOLS / "node_modules" / "node" / "bin"), str(TOOLS / "node_modules" / ".bin")]
    env.update(
        PATH=os.pathsep.join([*bins, env.get("PATH", "")]),
        HOME=str(TOOLS / "home"),  # the Inspector keeps its state under $HOME: keep it in the cache folder
        NODE_COMPILE_CACHE=str(TOOLS / "home" / "node-compile-cache"),
        npm_config_update_notifier="false",
        NO_COLOR="1",
        CLEAVR_MCP_DATA_DIR=str(data_dir),  # embedded sandbox, never the developer's data
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed: list[str] = []

    def record(self, name: str, ok: bool, detail: str = "") -> None:
        expected = INSPECTOR_EXPECTED_FAILURES.get(name)
        if ok and expected:
            self.failed.append(name)
            print(f"  STALE {name}: passes now, remove it from INSPECTOR_EXPECTED_FAILURES", flush=True)
        elif ok:
            self.passed.append(name)
            print(f"  ok    {name}", flush=True)
        elif expected:
            self.passed.append(name)
            print(f"  xfail {name}: {expected}", flush=True)
        else:
            self.failed.append(name)
            print(f"  FAIL  {name}: {detail[:2000]}", flush=True)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def run_conformance(url: str, env: dict[str, str], out: Path, checks: Checks) -> None:
    for version in SPEC_VERSIONS:
        baseline = ROOT / ".ci" / "conformance" / f"expected-failures-{version}.yml"
        cmd = [str(TOOLS / "node_modules" / ".bin" / "conformance"), "server", "--url", url, "--suite", "all",
               "--spec-version", version, "--expected-failures", str(baseline), "-o", str(out / version)]
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=TOOLS)
        log = proc.stdout + proc.stderr
        (out / f"conformance-{version}.log").write_text(log)
        total = next((line for line in log.splitlines() if line.startswith("Total:")), "no total line")
        checks.record(f"conformance {version} ({total}, {time.monotonic() - started:.0f} s)", proc.returncode == 0,
                      log[-3000:])


def inspector(args: list[str], env: dict[str, str], target: list[str] | None = None) -> tuple[int, Any, str]:
    # A stdio server gets only a minimal environment from the Inspector (HOME, PATH…): pass the data dir explicitly.
    # BROWSER=true: the approval page "opens" on no screen (CI has none); the call does not wait for a decision.
    server_env = [] if target else ["-e", f"CLEAVR_MCP_DATA_DIR={env['CLEAVR_MCP_DATA_DIR']}", "-e", "BROWSER=true",
                                    "-e", "CLEAVR_MCP_APPROVAL_WAIT_SECONDS=0"]
    cmd = [str(TOOLS / "node_modules" / ".bin" / "mcp-inspector"), "--cli", "--format", "json", "-q", *args,
           *server_env, "--", *(target or SERVER)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    try:
        payload = json.loads(proc.stdout)
    except json.JSONDecodeError:
        payload = None
    return proc.returncode, payload, f"$ {shlex.join(cmd)}\nexit {proc.returncode}\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}"


def check_inspector(name: str, args: list[str], env: dict[str, str], checks: Checks,
                    expect: Callable[[int, Any], bool], target: list[str] | None = None) -> Any:
    try:
        code, payload, transcript = inspector(args, env, target)
        ok = expect(code, payload)
    except Exception as exc:  # noqa: BLE001 - a failed expectation is reported with the transcript
        ok, payload, transcript = False, None, f"{type(exc).__name__}: {exc}\n{locals().get('transcript', '')}"
    checks.record(name, bool(ok), transcript)
    return payload


def result_of(payload: Any) -> Any:
    return payload.get("result") if isinstance(payload, dict) else None


def run_inspector(env: dict[str, str], http_url: str, demo_user: str, checks: Checks) -> None:
    def names(payload: Any) -> set[str]:
        return {t["name"] for t in (result_of(payload) or {}).get("tools", [])}

    must_have = {"quote_commission", "submit_receivable", "submit_receivables_batch", "get_receivable",
                 "cancel_receivable", "extract_pdf"}
    for era in ("legacy", "modern"):
        check_inspector(f"inspector stdio {era}: tools/list", ["--protocol-era", era, "--method", "tools/list"], env,
                        checks, lambda code, p: code == 0 and must_have <= names(p)
                        and all(t.get("inputSchema", {}).get("type") == "object" and t.get("annotations")
                                for t in result_of(p)["tools"]))
        check_inspector(
            f"inspector stdio {era}: tools/call quote_commission",
            ["--protocol-era", era, "--method", "tools/call", "--tool-name", "quote_commission",
             "--tool-arg", "amount=5000.00", "days_overdue=60"], env, checks,
            lambda code, p: code == 0 and result_of(p)["isError"] is False
            and result_of(p)["structuredContent"]["commission_amount"] == "795.00"
            and result_of(p)["structuredContent"]["summary"] == "15.90 % = €795.00, you receive €4,205.00")

    # The CLI declares no elicitation capability (as Claude Desktop): a risky write must come back as
    # approval_pending (the person is asked on the approval page), with nothing sent to Cleavr and no token or link
    # for the model.
    receivable = {
        "user_id": demo_user,
        "invoice": {"numbers": ["CI-INSPECTOR-1"], "issue_date": "2026-01-05", "due_date": "2026-02-04",
                    "service_description": "Consulting", "amount": "1200.00", "amount_before_tax": "1000.00",
                    "tax_amount": "200.00", "currency": "EUR"},
        "debtor": {"company_name": "Debtor SARL", "company_type": "company",
                   "address": {"line1": "1 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"},
                   "contacts": [{"first_name": "Ana", "last_name": "Durand", "email": "ana@debtor.example",
                                 "phone": "+33612345678", "level": 0}]},
    }
    check_inspector(
        "inspector stdio: submit_receivable without elicitation -> approval_pending",
        ["--method", "tools/call", "--tool-name", "submit_receivable", "--tool-arg",
         f"receivable={json.dumps(receivable)}"], env, checks,
        lambda code, p: code == 0 and result_of(p)["structuredContent"]["status"] == "approval_pending"
        and result_of(p)["structuredContent"].get("confirmation") is None
        and result_of(p)["structuredContent"].get("approval_url") is None)
    # An invalid argument is a tool error the model can read: exit code 5 = "tool returned isError".
    check_inspector(
        "inspector stdio: invalid amount -> isError result (exit 5)",
        ["--method", "tools/call", "--tool-name", "quote_commission", "--tool-arg", "amount=-5", "days_overdue=10"],
        env, checks, lambda code, p: code == 5 and result_of(p)["isError"] is True
        and "amount" in json.dumps(result_of(p)["content"]))

    # Tool-schema portability (exit 6 on an error-severity problem; warnings are printed, not failures).
    check_inspector("inspector stdio: tools/list --strict (schema portability)",
                    ["--method", "tools/list", "--strict"], env, checks, lambda code, p: code == 0)
    check_inspector("inspector stdio: resources/list", ["--method", "resources/list"], env, checks,
                    lambda code, p: code == 0 and "cleavr://commission/rates"
                    in {r["uri"] for r in result_of(p)["resources"]})
    check_inspector("inspector stdio: resources/read cleavr://commission/rates",
                    ["--method", "resources/read", "--uri", "cleavr://commission/rates"], env, checks,
                    lambda code, p: code == 0 and json.loads(result_of(p)["contents"][0]["text"])["default_rates"][1]
                    ["rate_percentage"] == "15.90")
    check_inspector("inspector stdio: prompts/list", ["--method", "prompts/list"], env, checks,
                    lambda code, p: code == 0 and {"submit_invoice_pdf", "onboard_creditor"}
                    <= {x["name"] for x in result_of(p)["prompts"]})
    check_inspector("inspector stdio: prompts/get onboard_creditor",
                    ["--method", "prompts/get", "--prompt-name", "onboard_creditor", "--prompt-args",
                     "email=finance@acme.example"], env, checks,
                    lambda code, p: code == 0 and "finance@acme.example"
                    in result_of(p)["messages"][0]["content"]["text"])
    check_inspector("inspector http: tools/list", ["--method", "tools/list"], env, checks,
                    lambda code, p: code == 0 and must_have <= names(p), target=[http_url])
    run_inspector_apps(env, http_url, checks)


def run_inspector_apps(env: dict[str, str], http_url: str, checks: Checks) -> None:
    """MCP Apps: the ui:// views are listed as text/html;profile=mcp-app, each reads back byte for byte as the
    file shipped in the package, and the tools name them in _meta.ui (stdio and HTTP)."""
    from cleavr_mcp.views import VIEWS, view_html

    app_mime = "text/html;profile=mcp-app"
    for transport, target in (("stdio", None), ("http", [http_url])):
        listing = check_inspector(
            f"inspector {transport}: resources/list has the ui:// views as {app_mime}",
            ["--method", "resources/list"], env, checks,
            lambda code, p: code == 0 and {r["uri"]: r.get("mimeType") for r in result_of(p)["resources"]
                                           if r["uri"].startswith("ui://")} == dict.fromkeys(VIEWS, app_mime),
            target=target)
        for uri in sorted({r["uri"] for r in (result_of(listing) or {}).get("resources", [])
                           if r["uri"].startswith("ui://")}):
            check_inspector(
                f"inspector {transport}: resources/read {uri}", ["--method", "resources/read", "--uri", uri], env,
                checks, lambda code, p, uri=uri: code == 0 and result_of(p)["contents"][0]["mimeType"] == app_mime
                and result_of(p)["contents"][0]["text"] == view_html(uri), target=target)
        check_inspector(
            f"inspector {transport}: tools/list binds the views in _meta.ui", ["--method", "tools/list"], env, checks,
            lambda code, p: code == 0 and {t["name"]: t.get("_meta", {}).get("ui") for t in result_of(p)["tools"]
                                           if t.get("_meta", {}).get("ui")} == {
                "show_portfolio": {"resourceUri": "ui://cleavr/portfolio.html"},
                "get_receivable": {"resourceUri": "ui://cleavr/receivable.html"},
                "receivable_timeline": {"resourceUri": "ui://cleavr/receivable.html", "visibility": ["app"]}},
            target=target)


def main() -> int:
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="cleavr-ci-clients-") as tmp:
        tmp_path = Path(tmp)
        env = tool_env(tmp_path / "data")
        port = free_port()
        log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen([*SERVER, "--transport", "http", "--port", str(port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", server)
            from cleavr_mcp.config import Settings
            from cleavr_mcp.sandbox.testing import demo_user_id

            demo = demo_user_id(Settings(_env_file=None, data_dir=tmp_path / "data").sandbox_db_path)
            url = f"http://127.0.0.1:{port}/mcp"
            print(f"conformance suite against {url}", flush=True)
            run_conformance(url, env, tmp_path, checks)
            print("MCP Inspector CLI", flush=True)
            run_inspector(env, url, demo, checks)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
        if checks.failed:
            print("\nserver log (last 3000 characters):\n" + (tmp_path / "server.log").read_text()[-3000:])
            for version in SPEC_VERSIONS:
                conf_log = tmp_path / f"conformance-{version}.log"
                if conf_log.exists():
                    print(f"\n--- conformance {version} (tail) ---\n" + conf_log.read_text()[-4000:])
    print(f"\nthird-party clients: {len(checks.passed)} passed, {len(checks.failed)} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
