"""The package's layering (README, Architecture): imports run down the layers, never in a cycle."""

import ast
import graphlib
import pathlib

PACKAGE = pathlib.Path(__file__).parent.parent / "src" / "eqxnqs"
#: The layers, top first: a module imports only from its own layer and those above it.
LAYERS = ["_typing", "_geometry", "_models", "_netket", "_systems", "_observables", "_workflow"]


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> set[str]:
    """The eqxnqs modules that `path` imports, at module level or inside functions."""
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.startswith("eqxnqs."))
    return found


def _graph() -> dict[str, set[str]]:
    """Every eqxnqs module and the eqxnqs modules it imports (not its own package)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = set()
        for target in _imports(path):
            while target not in modules:  # eqxnqs._models.MLP -> eqxnqs._models
                target = target.rsplit(".", 1)[0]
            if target != name and not name.startswith(target + "."):
                graph[name].add(target)
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_no_module_imports_another_that_imports_it_back():
    graph = _graph()
    assert len(graph) > 40
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        raise AssertionError(f"import cycle: {error.args[1]}") from None


def test_imports_run_down_the_layers():
    upward = [
        (module, target)
        for module, targets in _graph().items()
        for target in targets
        if _layer(module) is not None
        and _layer(target) is not None
        and _layer(target) > _layer(module)
    ]
    assert upward == []


def test_imports_inside_functions_count():
    # eqxnqs._netket._kinetic imports the Flax converter inside a function.
    assert "eqxnqs._netket._flax_convert" in _graph()["eqxnqs._netket._kinetic"]
