"""The one exception type the runtime raises for problems a user can fix (a missing or wrong file, a
bad size, a backend that is not installed). Its message is a single line that names the file or
value and says what to do; the command-line tools print it as `error: ...` and exit EXIT_BAD_INPUT.
Also the few helpers every command shares for its messages and exit codes."""
from __future__ import annotations

import importlib

# Every livestyle command exits with these: 2 when the input is at fault (what argparse does for a
# bad flag, too), 1 when the work failed on the way (a disk or display gone mid-run), 130 when it was
# stopped (Ctrl+C or SIGTERM, alike: 128 + SIGINT, as shells report it).
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


class LivestyleError(Exception):
    """A problem with the user's input or machine, with a message meant to be printed as is."""
    exit_code = EXIT_BAD_INPUT


class WorkFailed(LivestyleError):
    """The work failed on the way, not its input (another program made our output meanwhile): exit 1."""
    exit_code = EXIT_FAILED


def require(module: str, install: str):
    """Import an optional library, or raise one clear LivestyleError saying how to get it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise LivestyleError(f"{module}: not installed ({install})") from None
    except Exception as error:  # noqa: BLE001 — a broken install (missing CUDA libraries, ...)
        raise LivestyleError(f"{module}: import failed ({error})") from None


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
