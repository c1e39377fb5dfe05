"""The package's layers: imports point down, no circles, small modules.

Engine (``skbackprop._engine``) under training (``skbackprop._training``)
under the estimators (the modules at the package's top).  Every import
counts, lazy ones inside functions included.
"""

import ast
from pathlib import Path

import pytest

import skbackprop

PACKAGE = Path(skbackprop.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {_name(p) for p in MODULES}


def _imports(path):
    """The skbackprop modules ``path`` imports, anywhere in its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("skbackprop")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "skbackprop"
        ):
            for alias in node.names:
                # "from package import module" imports the module itself.
                full = f"{node.module}.{alias.name}"
                found.add(full if full in NAMES else node.module)
    return found


GRAPH = {_name(p): _imports(p) for p in MODULES}


def _layer(module):
    if module.startswith("skbackprop._engine"):
        return 0
    if module.startswith("skbackprop._training"):
        return 1
    return 2


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module):
    upward = [m for m in GRAPH[module] if _layer(m) > _layer(module)]
    assert not upward, f"{module} imports a higher layer: {upward}"


def test_no_import_circles():
    # Depth-first search for a back edge.
    state, path = {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for dep in sorted(GRAPH[module]):
            if state.get(dep) == "open":
                cycle = path[path.index(dep) :] + [dep]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_modules_stay_small(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 500, f"{_name(path)} has {lines} lines"


# Installed by extras only: imported inside the functions that need them, so
# that ``import skbackprop`` works, and stays fast, without them.
OPTIONAL = {"dask", "distributed", "skops", "pandas", "skl2onnx", "onnx", "onnxruntime"}


def _import_time_imports(path):
    """Top-level packages imported when the module is imported: its
    statements outside function bodies."""
    found = set()
    stack = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
        stack.extend(ast.iter_child_nodes(node))
    return found


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_optional_dependencies_imported_lazily(path):
    eager = _import_time_imports(path) & OPTIONAL
    assert not eager, f"{_name(path)} imports {sorted(eager)} on import"


def test_only_the_package_root_imports_the_root():
    # Modules inside the package import their siblings directly, never the
    # public package (which imports them all).
    offenders = [m for m, deps in GRAPH.items() if "skbackprop" in deps]
    assert not offenders
