"""Logging (issue 24): one logger per package, set up once by each command's main; -v/--verbose shows
DEBUG, --quiet keeps its meaning and shows WARNING and worse; print only in a command's own module."""
from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from livestyle.core import logs
from livestyle.core.cli import ArgumentParser, run_command
from livestyle.video.__main__ import main as video_main

REPO = Path(__file__).resolve().parents[1]
# livestyle's command-line modules (their own output is theirs to print) and training's commands.
PRINTING = {"livestyle/__main__.py", "livestyle/core/cli.py", "livestyle/live/app.py", "livestyle/video/__main__.py",
            "livestyle/video/metrics.py"}


def test_levels_follow_the_words():
    assert logs.level_of("warning: skipping the engine x") == logging.WARNING
    assert logs.level_of("livestyle: warning: a bad sidecar") == logging.WARNING
    assert logs.level_of("error: lost the display") == logging.ERROR
    assert logs.level_of("livestyle: model demo (a warning-free line)") == logging.INFO


@pytest.mark.parametrize("flags, shown, hidden", [
    ([], ["an info line", "warning: a warning"], ["a debug line"]),
    (["-v"], ["a debug line", "an info line", "warning: a warning"], []),
    (["--quiet"], ["warning: a warning"], ["a debug line", "an info line"]),
])
def test_verbose_and_quiet_set_what_stderr_shows(flags, shown, hidden, capsys, caplog):
    parser = ArgumentParser(prog="demo")
    parser.add_argument("--quiet", action="store_true")

    def work(args):
        logs.LOGGER.debug("a debug line")
        logs.say("an info line")
        logs.say("warning: a warning")
        return 0

    assert run_command(parser, flags, work, lambda error, args: str(error)) == 0
    err = capsys.readouterr().err
    assert all(line in err for line in shown) and not any(line in err for line in hidden), err
    assert "an info line" in caplog.text  # other handlers still get INFO under --quiet
    assert sum(isinstance(h, logs.StderrHandler) for h in logging.getLogger("livestyle").handlers) == 1


def test_every_command_takes_verbose(capsys):
    assert video_main(["--help"]) == 0
    assert "-v, --verbose" in capsys.readouterr().out


def test_print_only_in_command_line_modules():
    """The runtime and training's helpers log; a command's own module prints its output."""
    found = []
    for path in sorted((REPO / "livestyle").rglob("*.py")) + sorted((REPO / "training").rglob("*.py")):
        relative = str(path.relative_to(REPO))
        tree = ast.parse(path.read_text())
        is_command = relative in PRINTING or (relative.startswith("training/") and any(
            isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body))
        calls = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id == "print"]
        if calls and not is_command:
            found += [f"{relative}:{line}" for line in calls]
    assert not found, found
