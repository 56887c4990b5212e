"""Logging: one logger per package ("livestyle", "training"), configured once by each command's main.

Progress, notes and warnings go through these loggers to stderr, so stdout keeps a command's own
output (a table, a JSON report, a summary). Each command takes -v/--verbose (DEBUG); one with --quiet
keeps its meaning and also shows WARNING and worse only.

Much of the runtime takes a `log` callable (tests collect lines with `log=lines.append`); `say` is its
default: a line to the livestyle logger, at WARNING when it starts "warning:" and ERROR for "error:".
"""
from __future__ import annotations

import logging
import sys
from typing import Any

PACKAGES = ("livestyle", "training")
LOGGER = logging.getLogger("livestyle")


def level_of(message: str) -> int:
    """ERROR for "error: …", WARNING for "warning: …" (also after a prefix: "livestyle: warning: …")."""
    text = message.lstrip().lower()
    for word, level in (("error:", logging.ERROR), ("warning:", logging.WARNING)):
        if text.startswith(word) or f": {word}" in text[:60]:
            return level
    return logging.INFO


def say(message: str, logger: logging.Logger = LOGGER) -> None:
    """The runtime's default `log`: one line, at the level its words give it."""
    logger.log(level_of(message), message)


class StderrHandler(logging.StreamHandler):
    """Writes to sys.stderr as it is at each line (a test's captured stderr, a redirected one)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


def setup(*, quiet: bool = False, verbose: bool = False) -> None:
    """Once per command: the package loggers to stderr, message only (each line says what it is);
    INFO, WARNING with quiet, DEBUG with verbose. The level is the stderr handler's: records still
    reach other handlers (a log file, pytest's caplog) at INFO. Calling it again only sets the levels."""
    shown = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    for name in PACKAGES:
        logger = logging.getLogger(name)
        logger.setLevel(min(shown, logging.INFO))
        handler = next((h for h in logger.handlers if isinstance(h, StderrHandler)), None)
        if handler is None:
            handler = StderrHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
        handler.setLevel(shown)


def add_verbosity(parser: Any) -> None:
    """-v/--verbose for a command's parser (its --quiet, where it has one, is its own)."""
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail in the log (DEBUG level)")
