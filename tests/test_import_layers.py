"""The import layers, read from the source (ast): every import, inside functions and under TYPE_CHECKING too.

Checks that edge_agent never imports exporters, that the leaf modules import nothing of the project, that
the exporter reaches the device side only through the bundle and hardware modules, and that the package
cycles left are no more than the allow-list below (issue 14 removes them; shrink it as they go).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("edge_agent", "exporters")

# Modules that import nothing of the project: the contracts both sides share.
LEAVES = (
    "edge_agent.errors",
    "edge_agent.topics",
    "edge_agent.tls",
    "edge_agent.bundle.dtypes",
    "edge_agent.hardware.cpu",
)

# What exporters/ may import of edge_agent: the bundle, the hardware profiles, errors and the version.
EXPORTER_MAY_IMPORT = ("edge_agent", "edge_agent.bundle", "edge_agent.hardware", "edge_agent.errors")
# Still imported by the exporter until the pre/post settings move into the bundle (issue 14): the config
# models (PreprocessConfig, *Post) and the agent's own image Preprocessor (so the two cannot drift).
EXPORTER_STILL_IMPORTS = {"edge_agent.config.models", "edge_agent.inference.preprocess"}

# Package cycles still present (strongly connected groups of packages). Issue 14 removes them: a group
# may shrink or go, never grow, and no new one may appear.
ALLOWED_TANGLES = [
    # The config models import the config blocks of the domains, which import config back.
    {
        "edge_agent.accounting",
        "edge_agent.bundle",
        "edge_agent.commands",
        "edge_agent.config",
        "edge_agent.ensemble",
        "edge_agent.events",
        "edge_agent.features",
        "edge_agent.gating",
        "edge_agent.hardware",
        "edge_agent.inference",
        "edge_agent.pipeline",
        "edge_agent.postprocess",
        "edge_agent.sources",
        "edge_agent.text",  # its config blocks are composed by config.models like the others'
    },
    # DeviceFleet still takes the whole Agent (a TYPE_CHECKING import); narrow interfaces remove it.
    {"edge_agent.agent", "edge_agent.device_fleet"},
]
# Cycles issue 14 removed: these pairs must not be in one group again.
REMOVED = [
    ("edge_agent.cli", "edge_agent.fleet"),
    ("edge_agent.agent", "edge_agent.commands"),
    ("edge_agent.commands", "edge_agent.update"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> Iterator[str]:
    """Every project module `path` imports (absolute or relative, at any depth in the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from pkg import mod` imports pkg.mod when it is a module, else a name of pkg.
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        yield from (t for t in targets if t.split(".")[0] in PROJECT)


def project_modules() -> dict[str, set[str]]:
    """module -> the project modules it imports (names resolved to existing modules)."""
    files = {module_name(p): p for top in PROJECT for p in (ROOT / top).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        found = set()
        for imported in imports_of(path, name):
            target = imported
            while target and target not in files:  # `from m import name`: the module is m
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
        graph[name] = found
    return graph


def package_of(module: str) -> str:
    """The first two levels: edge_agent.<package> (a top-level module counts as its own package)."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for mod, targets in graph.items():
        src = package_of(mod)
        out.setdefault(src, set()).update(package_of(t) for t in targets if package_of(t) != src)
    return out


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected groups of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def test_edge_agent_never_imports_exporters() -> None:
    graph = project_modules()
    bad = {
        m: sorted(t for t in ts if t.startswith("exporters"))
        for m, ts in graph.items()
        if m.startswith("edge_agent")
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_leaf_modules_import_nothing_of_the_project() -> None:
    graph = project_modules()
    for leaf in LEAVES:
        assert leaf in graph, f"{leaf} is gone: update LEAVES"
        assert graph[leaf] == set(), f"{leaf} imports {sorted(graph[leaf])}"


def test_exporter_reaches_the_device_side_only_through_bundle_and_hardware() -> None:
    graph = project_modules()
    reached = {
        t for m, ts in graph.items() if m.startswith("exporters") for t in ts if t.startswith("edge_agent")
    }
    allowed = {t for t in reached if package_of(t) in EXPORTER_MAY_IMPORT or t == "edge_agent"}
    assert reached - allowed <= EXPORTER_STILL_IMPORTS, sorted(reached - allowed - EXPORTER_STILL_IMPORTS)


def test_package_cycles_only_shrink() -> None:
    groups = tangles(package_graph(project_modules()))
    print("package cycles:", [sorted(g) for g in groups])
    for group in groups:
        assert any(group <= allowed for allowed in ALLOWED_TANGLES), (
            f"new or grown package cycle: {sorted(group)}"
        )
    for a, b in REMOVED:
        assert not any({a, b} <= g for g in groups), f"{a} and {b} import each other again"


def test_the_checker_sees_imports_inside_functions_and_type_checking() -> None:
    graph = project_modules()
    # edge_agent.cli.run imports edge_agent.agent inside its handler; publish.schema under a function.
    assert "edge_agent.agent" in graph["edge_agent.cli.run"]
    assert "edge_agent.config.models" in graph["edge_agent.publish.schema"]
    assert tangles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
