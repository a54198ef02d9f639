"""The shape of the code that the next features build on: a plain-Python client layer, no import cycles, small
functions. Each rule here was once broken in this codebase; these tests keep it from coming back."""

import ast
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
APPLICATION = ("connections", "marketplace", "audit", "federation", "api_tokens", "api", "gathr_connector")
MAX_FUNCTION_LINES = 40


def application_modules() -> dict[str, Path]:
    modules = {}
    for package in APPLICATION:
        for path in (BASE_DIR / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(BASE_DIR).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_client_layer_runs_without_django():
    code = (
        "import importlib, pkgutil, sys; import connections.dynamics as layer; "
        "[importlib.import_module(f'connections.dynamics.{m.name}') for m in pkgutil.iter_modules(layer.__path__)]; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'django'))"
    )
    environment = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE either
    ran = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=environment, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


def test_the_application_imports_have_no_cycle():
    modules = application_modules()
    graph = {
        name: {other for other in imported_names(path) if other in modules} - {name} for name, path in modules.items()
    }
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for other in sorted(graph[node]):
            if state.get(other) == "open":
                return stack[stack.index(other) :] + [other]
            if other not in state and (found := visit(other)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_application_function_is_over_forty_lines():
    long = []
    for name, path in application_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []
