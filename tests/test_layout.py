"""The package as the README describes it: every module named under its folder, and no import
circle between modules: the graph of every import in every module (at module level, inside
functions, under TYPE_CHECKING, and a module named in a string, as ``importlib.import_module``
takes it), read from the source, has no cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mixfit"


def module_files() -> dict[str, Path]:
    files = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The mixfit modules ``name`` imports, each as the module a dotted name falls in."""

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            named += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            named += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and node.value in modules:
            named.append(node.value)  # importlib.import_module("mixfit....") and its like
    found = {owner(n) for n in named if n.startswith("mixfit")}
    return found - {None, name}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back():
    graph = import_graph()
    assert len(graph) > 50  # every module was read
    assert cycles(graph) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from mixfit.b import f", {"mixfit.b"}),
        ("def g():\n    from mixfit import b", {"mixfit", "mixfit.b"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mixfit.b", {"mixfit.b"}),
        ("import importlib\nimportlib.import_module('mixfit.b')", {"mixfit.b"}),
        ("from . import b", {"mixfit", "mixfit.b"}),
    ],
)
def test_every_kind_of_import_is_an_edge(tmp_path, source, expected):
    path = tmp_path / "a.py"
    path.write_text(source)
    assert imports_of("mixfit.a", path, {"mixfit", "mixfit.a", "mixfit.b"}) == expected


def test_a_circle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def layout_block() -> dict[str, str]:
    """The README's figure of the package: each entry (``cli.py``, ``model/``) and its text."""
    text = (PACKAGE.parent / "README.md").read_text()
    start = text.index("```\nmixfit/\n")
    entries: dict[str, str] = {}
    for line in text[start : text.index("```", start + 3)].splitlines()[2:]:
        if line.startswith("  ") and not line.startswith("   "):
            names = re.findall(r"\S+\.py|\S+/", line)
            current = names[0]
            entries |= {name: line for name in names}
        else:
            entries[current] += " " + line
    return entries


def test_the_readme_names_every_module_under_its_folder():
    entries = layout_block()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if path.name.startswith("__"):
            continue
        if len(parts) == 1:
            named = path.name in entries
        else:
            named = path.stem in re.findall(r"\w+", entries.get(f"{parts[0]}/", ""))
        if not named:
            missing.append("/".join(parts))
    assert missing == []


def pyproject_table(name: str) -> str:
    """The text of one ``[table]`` of pyproject.toml (tomllib is 3.11+; mixfit supports 3.10)."""
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    start = text.index(f"[{name}]\n")
    end = text.find("\n[", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_an_installed_mixfit_has_every_package_and_template():
    """CI installs with pip, not from the source tree: a folder missing from pyproject's explicit
    package list (or its templates from package-data) imports here and fails there."""
    listed = set(re.findall(r'"(mixfit[\w.]*)"', pyproject_table("tool.setuptools")))
    folders = {
        ".".join(path.parent.relative_to(PACKAGE.parent).parts)
        for path in PACKAGE.rglob("__init__.py")
    }
    templates = PACKAGE.parent / "stan_templates"
    template_folders = {
        ".".join(("mixfit",) + path.parent.relative_to(PACKAGE.parent).parts)
        for path in templates.rglob("*.stan")
    }
    with_data = set(
        re.findall(
            r'"(mixfit[\w.]*)" = \["\*\.stan"\]', pyproject_table("tool.setuptools.package-data")
        )
    )
    assert folders - listed == set()
    assert template_folders - listed == set()
    assert template_folders - with_data == set()
    for folder in template_folders:
        assert (
            PACKAGE.parent / folder.replace("mixfit.", "", 1).replace(".", "/") / "__init__.py"
        ).exists()
