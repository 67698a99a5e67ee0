"""Dockerfiles and image inputs, checked statically (no Docker engine here)."""

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
DOCKERFILES = [ROOT / "services" / "Dockerfile", ROOT / "gateway" / "Dockerfile"]
SERVICES = ["auth", "tasks", "logs", "kpi", "hooks"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = _run(str(BIN / "hadolint"), str(dockerfile))

    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_dockerfile_checks_pass() -> None:
    args = ["--framework", "dockerfile", "--quiet", "--compact", "--skip-download"]
    files = [arg for path in DOCKERFILES for arg in ("-f", str(path))]

    result = _run(str(BIN / "checkov"), *files, *args)

    assert result.returncode == 0, result.stdout[-3000:]


def test_images_run_as_a_non_root_user_with_a_healthcheck() -> None:
    for dockerfile in DOCKERFILES:
        lines = dockerfile.read_text().splitlines()
        users = [line.split()[1] for line in lines if line.startswith("USER ")]
        assert users, dockerfile
        assert users[-1].split(":")[0] not in {"0", "root"}, dockerfile
        assert any(line.startswith("HEALTHCHECK ") for line in lines), dockerfile


def test_the_gateway_image_is_sized_as_the_local_gateway() -> None:
    local = (ROOT / "gateway" / "nginx.local.conf").read_text()
    image = (ROOT / "gateway" / "Dockerfile").read_text()
    connections = re.search(r"worker_connections (\d+);", local)
    files = re.search(r"worker_rlimit_nofile (\d+);", local)
    assert connections is not None
    assert files is not None

    # The image rewrites the base image's nginx.conf (1,024 connections) to the same numbers.
    assert f"worker_connections {connections.group(1)};" in image
    assert f"worker_rlimit_nofile {files.group(1)};" in image


@pytest.mark.parametrize("service", SERVICES)
def test_requirements_pin_the_locked_versions(service: str) -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}
    lines = (ROOT / "services" / service / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]

    assert pins
    for pin in pins:
        match = re.fullmatch(r"([a-z0-9-]+)(\[[a-z0-9,]+\])?==([\w.]+)", pin)
        assert match, f"{pin!r} is not an exact pin"
        assert locked[match.group(1)] == match.group(3), pin


def test_the_build_context_leaves_out_local_state_and_tests() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().splitlines())

    assert {".git", ".venv", ".local", ".env", "**/tests"} <= ignored


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _code_imports(service: str) -> set[str]:
    """Top-level third-party modules the service's code (and the shared code it uses) import."""
    seen: set[Path] = set()
    todo = [p for p in (ROOT / "services" / service).rglob("*.py") if "tests" not in p.parts]
    external: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top in {"shared", "services"}:
                module = ROOT.joinpath(*name.split("."))
                todo += [
                    p for p in (module.with_suffix(".py"), module / "__init__.py") if p.exists()
                ]
            elif top not in sys.stdlib_module_names:
                external.add(top)
    return external


def _locked_closure(requirements: set[str]) -> set[str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    depends = {p["name"]: [d["name"] for d in p.get("dependencies", [])] for p in lock["package"]}
    extras = {
        p["name"]: [d["name"] for deps in p.get("optional-dependencies", {}).values() for d in deps]
        for p in lock["package"]
    }
    closure, todo = set(), list(requirements)
    while todo:
        name = todo.pop()
        if name not in closure:
            closure.add(name)
            todo += depends.get(name, []) + extras.get(name, [])
    return closure


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_requirements_cover_what_the_code_imports(service: str) -> None:
    lines = (ROOT / "services" / service / "requirements.txt").read_text().splitlines()
    required = {re.split(r"[\[=]", line)[0] for line in lines if line and line[0] != "#"}
    installed = _locked_closure(required)
    distributions = packages_distributions()

    for module in _code_imports(service):
        providers = {name.lower().replace("_", "-") for name in distributions.get(module, [])}
        assert providers & installed, f"{service} imports {module}, which its image lacks"
