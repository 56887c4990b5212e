"""How the project's modules import each other. livestyle is in layers, each importing only those
below it (core → faces → model → runtime → live | video); training sits beside live and video and
reaches down into the runtime at most; scripts and their dev helpers stand on top. No cycle, siblings
at module level (so a module's dependencies are read at its top, not found mid-function), no entry
point pulling in `training` (the runtime must install and run without it), and no function too long
to read."""
import ast
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "livestyle"
# The layer of each package: a module imports its own package and lower layers, never a layer of its
# own or above. live and video share a layer, so neither imports the other; so does training, which
# therefore never imports live or video. livestyle itself (its __init__ and __main__) is the top of
# the runtime: `python -m livestyle` dispatches to the live app and the doctor.
LAYERS = {"livestyle.core": 0, "livestyle.faces": 1, "livestyle.model": 2, "livestyle.runtime": 3,
          "livestyle.live": 4, "livestyle.video": 4, "training": 4, "livestyle": 5, "devtools": 6, "scripts": 7}
SOURCES = [PACKAGE, REPO / "training", REPO / "scripts"]
# Imported inside functions on purpose: the window is all PySide6 (optional, the gui extra), and
# `import livestyle` stays light by importing the Stylizer on first use.
LAZY_ON_PURPOSE = {("livestyle.live.app", "livestyle.live.window"), ("livestyle", "livestyle.runtime.stylizer")}
ENTRY_POINTS = ["livestyle", "livestyle.__main__", "livestyle.live.app", "livestyle.runtime.selection",
                "livestyle.video", "livestyle.video.__main__", "livestyle.video.metrics", "livestyle.runtime.doctor",
                "livestyle.runtime.engines.build"]
SCRIPTS = ["scripts/build_engine.py"]
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    """Dotted name as imported: scripts/devtools/xvfb.py is `devtools.xvfb` (pytest's pythonpath)."""
    parts = path.relative_to(REPO).with_suffix("").parts
    if parts[:2] == ("scripts", "devtools"):
        parts = parts[1:]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    root = REPO / "scripts" if name.split(".")[0] == "devtools" else REPO
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_ours(name: str) -> bool:
    return name.split(".")[0] in ("livestyle", "training", "devtools")


def layer_of(module: str) -> tuple[str, int]:
    """(package, layer) of a module: the longest LAYERS key it lies in."""
    for package in sorted(LAYERS, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package, LAYERS[package]
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


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
            if is_ours(target):
                yield target, node, id(node) in top_level


def project_files() -> list[Path]:
    return [path for source in SOURCES for path in sorted(source.rglob("*.py"))]


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): {target for target, _, _ in imported_modules(path)} for path in project_files()}


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


def test_no_import_cycle():
    """Imports inside functions count too: a cycle hidden in a function is still a cycle."""
    graph = import_graph()
    assert "livestyle.runtime.stylizer" in graph["livestyle.runtime.selection"]
    assert "training.fit" in graph and "devtools.xvfb" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_every_import_points_down_the_layers():
    """Functions' imports count too. Within a package anything goes (the cycle test keeps it sane)."""
    upward = []
    for path in project_files():
        importer = module_name(path)
        package, layer = layer_of(importer)
        for target, node, _ in imported_modules(path):
            target_package, target_layer = layer_of(target)
            if target_package != package and target_layer >= layer:
                upward.append(f"{path.relative_to(REPO)}:{node.lineno} ({package}, layer {layer}) imports {target} "
                              f"({target_package}, layer {target_layer})")
    assert not upward, "\n".join(upward)


def test_the_layer_table_places_modules():
    assert layer_of("livestyle.runtime.backends.torch_cpu") == ("livestyle.runtime", 3)
    assert layer_of("livestyle.video.job") == ("livestyle.video", 4)
    assert layer_of("livestyle.live.window")[1] == layer_of("livestyle.video.io")[1] == layer_of("training.fit")[1]
    assert layer_of("livestyle.__main__") == ("livestyle", 5) and layer_of("devtools.xvfb") == ("devtools", 6)
    assert layer_of("scripts.build_engine") == ("scripts", 7)


def test_livestyle_never_imports_training_or_dev_helpers():
    found = [f"{path.relative_to(REPO)}:{node.lineno} imports {target}" for path in PACKAGE.rglob("*.py")
             for target, node, _ in imported_modules(path) if target.split(".")[0] in ("training", "devtools")]
    assert not found, "\n".join(found)


def test_livestyle_itself_holds_only_the_entry_points():
    """The modules live in the layer packages; the package root keeps its __init__ and __main__."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], loose
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == [
        "assets", "core", "faces", "live", "model", "runtime", "video"]


@pytest.mark.slow
def test_the_wheel_holds_no_dev_helpers(tmp_path):
    """The Xvfb, face-scene and benchmarks-page helpers live in scripts/devtools, outside the wheel."""
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("livestyle-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "livestyle/runtime/stylizer.py" in names and "livestyle/assets/demo_game2movie.safetensors" in names
    found = [n for n in names if "devtools" in n or n.startswith(("scripts/", "tests/"))]
    assert not found, found


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_livestyle_modules_import_each_other_at_module_level():
    lazy = []
    for path in PACKAGE.rglob("*.py"):
        importer = module_name(path)
        for target, node, top in imported_modules(path):
            if not top and target.startswith("livestyle") and (importer, target) not in LAZY_ON_PURPOSE:
                lazy.append(f"{path.relative_to(REPO)}:{node.lineno} imports {target} inside a function")
    assert not lazy, "\n".join(lazy)


@pytest.mark.slow
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


def test_no_function_is_too_long_to_read():
    long = []
    for path in project_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}() is {lines} lines")
    assert not long, "\n".join(long)


@pytest.mark.slow
def test_import_livestyle_is_light_and_offers_the_stylizer():
    """README's `from livestyle import Stylizer`, without torch on a bare `import livestyle`."""
    program = """
import sys
import livestyle
assert "torch" not in sys.modules and "livestyle.runtime.stylizer" not in sys.modules, sorted(sys.modules)
from livestyle import Stylizer
from livestyle.runtime.stylizer import Stylizer as defined
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


# The modules that make a command line: only these import argparse (runtime.options declares the runtime's
# flags without it, as data).
CLI_MODULES = {"livestyle.__main__", "livestyle.core.cli", "livestyle.live.app", "livestyle.video.__main__",
               "livestyle.video.metrics"}


def livestyle_modules():
    return [(module_name(path), path, ast.parse(path.read_text())) for path in sorted(PACKAGE.rglob("*.py"))]


def test_argparse_only_in_command_line_modules():
    found = []
    for name, path, tree in livestyle_modules():
        for node in ast.walk(tree):
            imported = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                        [node.module] if isinstance(node, ast.ImportFrom) else [])
            if "argparse" in imported and name not in CLI_MODULES:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, "argparse outside the command-line modules: " + ", ".join(found)


def test_live_and_video_never_probe_a_stylizer():
    """The FrameStylizer protocol says what a stylizer offers: no hasattr/getattr to find out."""
    probe = re.compile(r"\b(hasattr|getattr)\(\s*[\w.]*stylizer\b")
    found = [f"{path.relative_to(REPO)}:{number}" for folder in ("live", "video")
             for path in sorted((PACKAGE / folder).rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if probe.search(line)]
    assert not found, found
    assert probe.search('name = getattr(self.stylizer, "name", "?")')  # the check sees one


def test_weights_metadata_is_parsed_only_in_model_weights():
    """safe_open and a file's metadata(): model/weights.py alone (WeightsInfo); everyone else asks it."""
    found = [f"{path.relative_to(REPO)}:{number}"
             for path in project_files() if path != PACKAGE / "model" / "weights.py"
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if "safe_open" in line or ".metadata()" in line]
    assert not found, found


def test_live_and_video_build_their_stylizer_with_the_one_builder():
    for name in ("livestyle.live.app", "livestyle.video.__main__"):
        path = REPO.joinpath(*name.split(".")).with_suffix(".py")
        calls = {node.func.id for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        assert {"choose_models", "build_stylizer"} <= calls, name
        assert not calls & {"Stylizer", "FacesStylizer", "open_faces_stylizer"}, f"{name} builds a stylizer itself"
