"""How livestyle's modules import each other: no cycle, siblings at module level (so a module's
dependencies are read at its top, not found mid-function), no entry point pulling in `training`
(the runtime must install and run without it), and no function too long to read."""
import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "livestyle"
# Imported inside functions on purpose: the window is all PySide6 (optional, the gui extra), and
# `import livestyle` stays light by importing the Stylizer on first use.
LAZY_ON_PURPOSE = {("livestyle.app", "livestyle.window"), ("livestyle", "livestyle.stylizer")}
ENTRY_POINTS = ["livestyle", "livestyle.__main__", "livestyle.app", "livestyle.selection", "livestyle.video",
                "livestyle.video.__main__", "livestyle.video.metrics", "livestyle.doctor", "livestyle.build"]
SCRIPTS = ["scripts/build_engine.py"]
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path):
    """(livestyle module imported, the import statement, at module level?) for every import in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from . import capture` imports a module; `from .model import parse_size` a name of one
            targets = [f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "livestyle" or target.startswith("livestyle."):
                yield target, node, id(node) in top_level


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): {target for target, _, _ in imported_modules(path)}
            for path in PACKAGE.rglob("*.py")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":  # on the current path: back to where it started
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target, path + [target])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_no_import_cycle_in_livestyle():
    """Imports inside functions count too: a cycle hidden in a function is still a cycle."""
    graph = import_graph()
    assert "livestyle.selection" in graph and "livestyle.stylizer" in graph["livestyle.selection"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_livestyle_modules_import_each_other_at_module_level():
    """devtools/ is left out: test tooling whose subcommands import what each needs."""
    lazy = []
    for path in PACKAGE.rglob("*.py"):
        if "devtools" in path.parts:
            continue
        importer = module_name(path)
        for target, node, top in imported_modules(path):
            if not top and (importer, target) not in LAZY_ON_PURPOSE:
                lazy.append(f"{path.relative_to(REPO)}:{node.lineno} imports {target} inside a function")
    assert not lazy, "\n".join(lazy)


def test_entry_points_do_not_import_training():
    """Each entry point imported in one fresh interpreter, in turn; any `training` module that
    appears is charged to the entry point that brought it."""
    program = f"""
import importlib, importlib.util, json, sys
sys.path.insert(0, {str(REPO)!r})
found, seen = {{}}, set()
def new_training_modules():
    now = {{name for name in sys.modules if name == "training" or name.startswith("training.")}}
    new = sorted(now - seen)
    seen.update(now)
    return new
for name in {ENTRY_POINTS!r}:
    importlib.import_module(name)
    found[name] = new_training_modules()
for script in {SCRIPTS!r}:
    spec = importlib.util.spec_from_file_location("script_under_test", {str(REPO)!r} + "/" + script)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # its main() runs only as __main__
    found[script] = new_training_modules()
print(json.dumps(found))
"""
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert set(found) == set(ENTRY_POINTS + SCRIPTS)
    guilty = {name: modules for name, modules in found.items() if modules}
    assert not guilty, f"importing these pulled in training: {guilty}"


def test_no_function_in_livestyle_is_too_long_to_read():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}() is {lines} lines")
    assert not long, "\n".join(long)


def test_import_livestyle_is_light_and_offers_the_stylizer():
    """README's `from livestyle import Stylizer`, without torch on a bare `import livestyle`."""
    program = """
import sys
import livestyle
assert "torch" not in sys.modules and "livestyle.stylizer" not in sys.modules, sorted(sys.modules)
from livestyle import Stylizer
from livestyle.stylizer import Stylizer as defined
assert Stylizer is defined is livestyle.Stylizer
try:
    livestyle.Stylise
except AttributeError as error:
    assert "no attribute 'Stylise'" in str(error)
else:
    raise AssertionError("a misspelt name was found")
"""
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
