"""The layout of `shared/` holds: four packages by concern, each importing only what its
`__init__` docstring allows, no import cycle, and no module passing on another's names."""

import ast
import gc
import graphlib
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SHARED = ROOT / "shared"
# Which packages of `shared` each package may import (besides itself).
ALLOWED = {
    "core": set(),
    "contracts": set(),
    "web": {"core", "contracts"},
    "messaging": {"core", "contracts"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def shared_modules() -> dict[str, Path]:
    """Every module of `shared` outside its tests, by dotted name."""
    return {
        module_name(path): path
        for path in SHARED.rglob("*.py")
        if "tests" not in path.relative_to(SHARED).parts
    }


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The `shared` modules that `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    """`importer -> imported` for each import a package's rule forbids."""
    found = []
    for importer, imported in graph.items():
        own = package_of(importer)
        for name in imported:
            other = package_of(name)
            if own and other and other != own and other not in ALLOWED[own]:
                found.append(f"{importer} -> {name}")
    return sorted(found)


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """An import cycle of `graph`, or [] when there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def passed_on(path: Path, modules: dict[str, Path]) -> list[str]:
    """Names `path` imports from a `shared` module that only imports them itself (a shim)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and node.module in modules):
            continue
        source = modules[node.module]
        defined = defined_names(source)
        for alias in node.names:
            if alias.name not in defined and f"{node.module}.{alias.name}" not in modules:
                found.append(f"{path.relative_to(ROOT)}: {alias.name} from {node.module}")
    return found


def defined_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.If | ast.Try):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    names.add(inner.id)
                elif isinstance(inner, ast.ClassDef | ast.FunctionDef):
                    names.add(inner.name)
    return names


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = shared_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_each_package_imports_only_what_its_rule_allows(graph: dict[str, set[str]]) -> None:
    assert {package_of(name) for name in graph} - {None} == set(ALLOWED)
    assert layering_violations(graph) == []


def test_shared_has_no_import_cycle(graph: dict[str, set[str]]) -> None:
    assert cycle(graph) == []


def test_every_package_says_what_it_holds_and_may_import() -> None:
    for package in ALLOWED:
        docstring = ast.get_docstring(ast.parse((SHARED / package / "__init__.py").read_text()))
        assert docstring
        assert "May import:" in docstring


def test_names_are_imported_from_the_module_that_defines_them() -> None:
    modules = shared_modules()
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # No garbage collection while parsing: a finalizer that warns in the middle of CPython
    # 3.11's AST constructor (an earlier test's unclosed socket) makes it raise SystemError.
    gc.collect()
    gc.disable()
    try:
        shims = [shim for name in listed for shim in passed_on(ROOT / name, modules)]
    finally:
        gc.enable()
    assert shims == []


def test_the_checks_catch_what_they_look_for() -> None:
    looped = {
        "shared.messaging.a": {"shared.messaging.b"},
        "shared.messaging.b": {"shared.messaging.a"},
    }
    crossing = {"shared.web.app": {"shared.messaging.consumer"}, "shared.core.db": {"shared.web.x"}}

    assert set(cycle(looped)) == {"shared.messaging.a", "shared.messaging.b"}
    assert layering_violations(crossing) == [
        "shared.core.db -> shared.web.x",
        "shared.web.app -> shared.messaging.consumer",
    ]
