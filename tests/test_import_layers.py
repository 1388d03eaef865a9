"""The import layers, read from the source (ast): every import, inside functions and under TYPE_CHECKING too.

Checks that edge_agent never imports exporters, that the leaf modules import nothing of the project, that
the bundle package (the contract both sides share) imports only leaves, that the exporter reaches the
device side only through the bundle and hardware modules, that the device's two roles stay apart (the data
path never imports the fleet features of edge_agent.remote, which never import the agent, and the central
edge_agent.fleet imports neither), and that the package cycles left are no more than the allow-list below
(issue 14 removes them; shrink it as they go).
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
    "edge_agent.bundle.rewrite",
    "edge_agent.hardware.cpu",
    "edge_agent.strict",
    "edge_agent.credentials",
    "edge_agent.stages.types",
)

# What exporters/ may import of edge_agent: the bundle, the hardware profiles, errors and the version;
# and the sources, whose streaming resampler the keyword trainer uses so that its clips are resampled
# exactly as the device resamples a microphone (exporters/train/kws/speech.py).
# edge_agent.features: `edge-export train sensor` computes window features with the device's own code.
EXPORTER_MAY_IMPORT = (
    "edge_agent",
    "edge_agent.bundle",
    "edge_agent.hardware",
    "edge_agent.errors",
    "edge_agent.sources",
    "edge_agent.features",
)

# Package cycles still present (strongly connected groups of packages). Issue 14 removed them all: none
# may appear again.
ALLOWED_TANGLES: list[set[str]] = []
# Cycles issue 14 removed: these pairs must not be in one group again.
REMOVED = [
    # Each domain owns its config block and config composes them: config imports the domains, never back.
    ("edge_agent.config", "edge_agent.sources"),
    ("edge_agent.config", "edge_agent.hardware"),
    ("edge_agent.config", "edge_agent.inference"),
    ("edge_agent.config", "edge_agent.postprocess"),
    ("edge_agent.config", "edge_agent.publish"),
    ("edge_agent.bundle", "edge_agent.inference"),
    ("edge_agent.sources", "edge_agent.features"),
    ("edge_agent.cli", "edge_agent.fleet"),
    ("edge_agent.agent", "edge_agent.remote.commands"),
    ("edge_agent.remote.commands", "edge_agent.remote.update"),
    ("edge_agent.agent", "edge_agent.remote.wiring"),
    # the `fleet:` config block left the commands package for remote/config.py
    ("edge_agent.config", "edge_agent.remote.commands"),
]

# Folders that group packages by role: each sub-package or module in them counts as a package.
GROUPS = ("edge_agent.remote",)
# The device's two roles. The data path never imports the fleet features; the config schema imports only
# their `fleet:` block. The fleet features never import the agent or the CLI (they get narrow views,
# edge_agent.remote.ports), and the central side (edge_agent.fleet, on the operator's machine) and the
# device's fleet features meet only on the wire: topics and payloads.
DATA_PATH = (
    "edge_agent.stages",
    "edge_agent.sources",
    "edge_agent.gating",
    "edge_agent.inference",
    "edge_agent.postprocess",
    "edge_agent.events",
    "edge_agent.ensemble",
    "edge_agent.features",
    "edge_agent.accounting",
    "edge_agent.outbox",
    "edge_agent.publish",
    "edge_agent.pipeline",
    "edge_agent.bundle",
    "edge_agent.hardware",
    "edge_agent.config",
)
FLEET_FEATURES = "edge_agent.remote"
SCHEMA_MAY_IMPORT = {"edge_agent.remote", "edge_agent.remote.config"}
FLEET_FEATURES_NEVER_IMPORT = ("edge_agent.agent", "edge_agent.cli", "edge_agent.fleet")
CENTRAL = "edge_agent.fleet"


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
    """The first two levels: edge_agent.<package> (a top-level module counts as its own package); in a
    grouping folder (GROUPS), three: edge_agent.remote.<package>."""
    parts = module.split(".")
    return ".".join(parts[: 3 if ".".join(parts[:2]) in GROUPS else 2])


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


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
    assert sorted(reached - allowed) == []


def test_the_bundle_package_imports_only_leaves() -> None:
    """The manifest, its pre/post settings and the image Preprocessor are shared with the exporter: the
    bundle package depends on nothing above it."""
    graph = project_modules()
    bad = {
        m: sorted(t for t in ts if package_of(t) != "edge_agent.bundle" and t not in LEAVES)
        for m, ts in graph.items()
        if package_of(m) == "edge_agent.bundle"
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_package_cycles_only_shrink() -> None:
    groups = tangles(package_graph(project_modules()))
    print("package cycles:", [sorted(g) for g in groups])
    for group in groups:
        assert any(group <= allowed for allowed in ALLOWED_TANGLES), (
            f"new or grown package cycle: {sorted(group)}"
        )
    for a, b in REMOVED:
        assert not any({a, b} <= g for g in groups), f"{a} and {b} import each other again"


def test_the_data_path_never_imports_the_fleet_features() -> None:
    graph = project_modules()
    bad = {
        m: sorted(t for t in ts if under(t, FLEET_FEATURES) and t not in SCHEMA_MAY_IMPORT)
        for m, ts in graph.items()
        if any(under(m, p) for p in DATA_PATH)
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}
    schema = {t for m, ts in graph.items() if under(m, "edge_agent.config") for t in ts}
    assert "edge_agent.remote.config" in schema, "the config schema no longer holds the `fleet:` block?"


def test_the_fleet_features_get_views_not_the_agent() -> None:
    graph = project_modules()
    bad = {
        m: sorted(t for t in ts if any(under(t, n) for n in FLEET_FEATURES_NEVER_IMPORT))
        for m, ts in graph.items()
        if under(m, FLEET_FEATURES)
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_the_central_side_and_the_device_fleet_features_meet_only_on_the_wire() -> None:
    graph = project_modules()
    bad = {
        m: sorted(t for t in ts if under(t, FLEET_FEATURES) or t == "edge_agent.agent")
        for m, ts in graph.items()
        if under(m, CENTRAL)
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_a_grouping_folder_splits_into_packages() -> None:
    assert package_of("edge_agent.remote.commands.mqtt") == "edge_agent.remote.commands"
    assert package_of("edge_agent.remote.ha") == "edge_agent.remote.ha"
    assert package_of("edge_agent.fleet.watch") == "edge_agent.fleet"


def test_the_checker_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    graph = project_modules()
    # edge_agent.cli.run imports edge_agent.agent inside its handler; postprocess its decoders likewise.
    assert "edge_agent.agent" in graph["edge_agent.cli.run"]
    assert "edge_agent.postprocess.classification" in graph["edge_agent.postprocess"]
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from edge_agent.agent import Agent\n"
        "def f() -> None:\n    from .sibling import g\n",
        encoding="utf-8",
    )
    found = set(imports_of(probe, "edge_agent.pkg.probe"))
    assert {"edge_agent.agent", "edge_agent.pkg.sibling"} <= found
    assert tangles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
