"""Imports read top-down: cli → server → tools → domain → clients → wire/models (docs/ARCHITECTURE.md).

Pure AST: every `import` / `from … import` of a cleavr_mcp module, wherever it stands (module level, inside a
function, under TYPE_CHECKING: a lazy import is still a dependency). A new upward import, or a new import cycle,
fails here. The edges and cycles that exist today and are to be removed are listed below by name; removing one
from the code means removing it from the list too (the test also fails on a listed edge that no longer exists).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "cleavr_mcp"

# Rank of each area: a module may import its own area or a lower rank, never a higher one.
LAYERS: dict[str, float] = {
    "cli": 7, "commands": 7, "testing": 7, "pdf_worker_warmup": 7,  # entry points
    "server": 6, "prompts": 6,  # transports, auth, policy, approvals; prompts are served by it
    "tools": 5,  # thin: validate → approve → call → shape
    # What the tools are built with (registry, errors, state, confirmation, write path, file input); the server
    # builds on it too.
    "toolkit": 4.75,
    # The sandbox is a stand-in for the remote APIs: it may use domain, clients and models, and only the server,
    # the toolkit's state opener, the tools' integration opener and the entry points may import it (never a client
    # or the domain).
    "sandbox": 4.5,
    "domain": 4, "extraction": 4, "events": 4,  # recovery planning, invoice mapping, extraction, the event inbox
    "cleavr": 3, "cleverinvo": 3, "storage": 3,  # clients and storage
    "config": 2, "net": 2,  # settings; who may reach our HTTP listeners (loopback, Host/Origin checks)
    "wire": 1,  # cleavr_mcp.cleavr's contract, models, wire and text modules, and the small leaf modules
    "private_files": 1, "pdfcheck": 1, "limits": 1, "views": 1, "__init__": 0,
}
WIRE_MODULES = {"contract", "models", "wire", "text", "untrusted", "validation", "logs"}

# Upward edges that exist today, each to be removed (importer → imported). None left: keep it so.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}
# Import cycles that exist today (each a strongly connected set of modules), to be broken. A cycle that grows
# (a new member) fails the test as a new one.
KNOWN_CYCLES: list[frozenset[str]] = []  # none left: a cycle that appears fails the test


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(target: str) -> str | None:
    """The cleavr_mcp module a dotted import target lands in (`from pkg import name` may name a submodule)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def imports_of(name: str) -> set[str]:
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" for alias in node.names] if module.startswith("cleavr_mcp") else []
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for target in targets:
            if target.startswith("cleavr_mcp") and (resolved := _resolve(target)) and resolved != name:
                found.add(resolved)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def area(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "__init__"
    if parts[1] == "cleavr" and len(parts) > 2 and parts[2] in WIRE_MODULES:
        return "wire"
    return parts[1]


def rank(name: str) -> float:
    return LAYERS[area(name)]


def upward_edges() -> set[tuple[str, str]]:
    return {(a, b) for a, targets in GRAPH.items() for b in targets if rank(b) > rank(a)}


def cycles() -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in GRAPH:
        if start in index:
            continue
        work = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def test_every_area_has_a_layer():
    assert {area(name) for name in MODULES} <= set(LAYERS), "a new package needs its place in LAYERS"


def test_no_new_upward_import():
    new = sorted(upward_edges() - set(KNOWN_UPWARD))
    assert not new, "upward imports (move the code down, or the caller up):\n" + "\n".join(f"{a} → {b}" for a, b in new)


def test_the_known_upward_imports_still_exist():
    gone = sorted(set(KNOWN_UPWARD) - upward_edges())
    assert not gone, "removed from the code, now remove from KNOWN_UPWARD: " + ", ".join(f"{a} → {b}" for a, b in gone)


def test_clients_never_import_the_sandbox():
    for name, targets in GRAPH.items():
        if area(name) in ("cleavr", "cleverinvo", "wire", "domain", "extraction", "storage"):
            assert not [t for t in targets if area(t) == "sandbox"], name


def test_no_new_import_cycle():
    new = [c for c in cycles() if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, "import cycles: " + "; ".join(" ↔ ".join(sorted(c)) for c in new)


def test_the_checker_sees_lazy_and_type_checking_imports():
    # tools/__init__ names AppState under TYPE_CHECKING only, and the state imports the sandbox inside functions.
    assert "cleavr_mcp.toolkit.state" in GRAPH["cleavr_mcp.tools"]
    assert "cleavr_mcp.sandbox" in GRAPH["cleavr_mcp.toolkit.state"]
