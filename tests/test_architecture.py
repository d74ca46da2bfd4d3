"""The layering of docs/architecture.md, checked on the source: no import loops, the base
imports nothing above it, and each fact of lociflow.layout is spelled in one place.

Imports are read with :mod:`ast`, top-level and deferred (inside functions) alike: a
loop that only works because one side defers its import is still a loop.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lociflow"

#: the config base: user errors, names, progress bars, the config file machinery
BASE = {"lociflow.errors", "lociflow.layout", "lociflow.progress", "lociflow.configfile"}

#: the layers of docs/architecture.md, top first: a module may import its own layer and
#: the layers above it (the longest matching prefix places a module)
LAYERS = [
    ("base", sorted(BASE)),
    ("grammars", ["lociflow.model.spec", "lociflow.searching.params"]),
    ("config", ["lociflow.config", "lociflow.config_sources"]),
    ("files", ["lociflow.io"]),
    ("services", ["lociflow.runs", "lociflow.metrics", "lociflow.result_warnings", "lociflow.report",
                  "lociflow.seqmap"]),
    ("preprocessing", ["lociflow.preprocessing"]),
    ("model", ["lociflow.model"]),
    ("stages", ["lociflow.training", "lociflow.evaluation", "lociflow.prediction", "lociflow.interpretation",
                "lociflow.searching", "lociflow.variation", "lociflow.scanning"]),
    ("shells", ["lociflow.cli", "lociflow.gui"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def _target(name: str) -> str | None:
    """The lociflow module an import names (a package's ``__init__`` for a package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for imported in names:
            if imported.startswith("lociflow"):
                target = _target(imported)
                if target and target != name and target != "lociflow":
                    found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_its_own_importers():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_planted_loop():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_config_base_imports_nothing_above_it():
    for name in BASE:
        assert GRAPH[name] <= BASE, (name, GRAPH[name] - BASE)


def layer_of(module: str) -> int | None:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    return None if best is None else best[0]


def test_every_module_has_a_layer_and_imports_only_its_own_or_those_above():
    for name, imported in GRAPH.items():
        if name == "lociflow":
            continue  # the package: its stage functions are imported by name, on first use
        assert layer_of(name) is not None, f"{name} belongs to no layer of docs/architecture.md"
        for other in imported:
            assert layer_of(other) <= layer_of(name), (
                f"{name} ({LAYERS[layer_of(name)][0]}) imports {other} ({LAYERS[layer_of(other)][0]}), a layer below it")


def test_the_layers_below_the_stages_do_not_import_a_stage():
    stages = {"lociflow.preprocessing.pipeline", "lociflow.training.run", "lociflow.evaluation.run",
              "lociflow.prediction", "lociflow.interpretation.run", "lociflow.searching.run"}
    lower = [n for n in MODULES if n.startswith(("lociflow.io", "lociflow.model"))] + ["lociflow.config"]
    for name in lower:
        assert not GRAPH[name] & stages, (name, GRAPH[name] & stages)


def test_only_the_thin_shells_import_the_gui():
    for name, imported in GRAPH.items():
        if not name.startswith(("lociflow.gui", "lociflow.cli")):
            assert not any(i.startswith("lociflow.gui") for i in imported), name


@pytest.mark.parametrize("name", ["params.yaml", "metrics.json", "spec.yaml", "model.safetensors",
                                  "history.tsv", "manifest.json", "predictions.tsv", "runs.tsv", "run.log"])
def test_run_folder_file_names_are_spelled_only_in_layout(name):
    pattern = re.compile(rf"[\"']{re.escape(name)}[\"']")
    spelled = [module for module, path in MODULES.items()
               if module != "lociflow.layout" and pattern.search(path.read_text(encoding="utf-8"))]
    assert spelled == [], f"{name} is spelled in {spelled}: import it from lociflow.layout"


def test_split_and_stage_names_are_defined_only_in_layout():
    definition = re.compile(r"^[A-Z_]+ = \(\"(train\", \"valid|preprocess\", \"train)", re.M)
    defined = [m for m, p in MODULES.items() if definition.search(p.read_text(encoding="utf-8"))]
    assert defined == ["lociflow.layout"]
