"""What every command's main() shares: argparse with one-line usage errors, number types for flags,
and run_command (the work, its one-line errors and its exit status). The only module of core/ that
knows about argparse or prints."""
from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
from typing import Iterator

from livestyle.core import logs
from livestyle.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, LivestyleError

ON_OFF = argparse.BooleanOptionalAction  # --flag / --no-flag, for modules that declare flags as data


def finite_float(low: float | None = None, high: float | None = None, *, above: float | None = None):
    """An argparse type: a finite number within [low, high] (or strictly above `above`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r}: use a finite number")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: use a number above {above:g}")
        if low is not None and value < low or high is not None and value > high:
            allowed = (f"from {low:g} to {high:g}" if low is not None and high is not None
                       else f"of at least {low:g}" if low is not None else f"of at most {high:g}")
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: use a number {allowed}")
        return value

    parse.__name__ = "number"
    return parse


def bounded_int(low: int, high: int | None = None):
    """An argparse type: a whole number within [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or high is not None and value > high:
            allowed = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: use a whole number {allowed}")
        return value

    parse.__name__ = "whole number"
    return parse


class ArgumentParser(argparse.ArgumentParser):
    """argparse with usage errors as one line (`prog: error: ... (see --help)`), exit code 2, and
    -v/--verbose (the log at DEBUG level) on every command."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        logs.add_verbosity(self)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        return super().parse_known_args(self._joined_negative_values(args), namespace)

    def _joined_negative_values(self, args):
        """`--region -10,0,640,360`: argparse takes a value that starts with '-' (and is not a plain
        number) for an option and stops with "expected one argument"; such a value is joined to its flag
        (`--region=-10,0,640,360`) so that the flag's own check answers it. No flag starts with '-' and a
        digit, so nothing else changes."""
        args = list(sys.argv[1:] if args is None else args)
        joined, index = [], 0
        while index < len(args):
            word = args[index]
            action = self._option_string_actions.get(word) if isinstance(word, str) else None
            following = args[index + 1] if index + 1 < len(args) else None
            if action is not None and action.nargs is None and action.option_strings and \
                    isinstance(following, str) and len(following) > 1 and following[0] == "-" and \
                    (following[1].isdigit() or following[1] == "."):
                joined.append(f"{word}={following}")
                index += 2
                continue
            joined.append(word)
            index += 1
        return joined


def configure_logging(args: argparse.Namespace) -> None:
    """The command's logging, from its -v/--verbose and --quiet (where it has them)."""
    logs.setup(quiet=bool(getattr(args, "quiet", False)), verbose=bool(getattr(args, "verbose", False)))


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM taken as Ctrl+C (KeyboardInterrupt) inside the block, so `kill` and Ctrl+C stop a command
    the same way: its partial output removed (or, for fit, its checkpoint kept) and EXIT_INTERRUPTED."""
    def on_term(*_):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (a test's worker): Ctrl+C only
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def interrupted(what: str) -> int:
    """The one line a stopped command prints, and its exit status."""
    print(f"interrupted: {what}", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def run_command(parser, argv, work, os_error_line, stopped=lambda args: "nothing half-written was kept") -> int:
    """A command's main(): argv parsed (argparse's own status for --help and for bad flags, which it
    has printed), then work(args) and its exit status. The user's LivestyleError becomes its line
    and EXIT_BAD_INPUT (EXIT_FAILED for WorkFailed); an OSError the checks before the work could not
    foresee (a drive gone mid-run) becomes os_error_line(error, args) and EXIT_FAILED; Ctrl+C or SIGTERM
    becomes `interrupted: ` + stopped(args) and EXIT_INTERRUPTED."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    configure_logging(args)
    try:
        with interruptible():
            return work(args)
    except KeyboardInterrupt:
        return interrupted(stopped(args))
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return error.exit_code  # EXIT_BAD_INPUT, or EXIT_FAILED for WorkFailed
    except OSError as error:
        print(f"error: {os_error_line(error, args)}", file=sys.stderr, flush=True)
        return EXIT_FAILED
