"""The one exception type the runtime raises for problems a user can fix (a missing or wrong file, a
bad size, a backend that is not installed). Its message is a single line that names the file or
value and says what to do; the command-line tools print it as `error: ...` and exit non-zero."""
from __future__ import annotations


class LivestyleError(Exception):
    """A problem with the user's input or machine, with a message meant to be printed as is."""


def require(module: str, install: str):
    """Import an optional library, or raise one clear LivestyleError saying how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise LivestyleError(f"{module}: not installed ({install})") from None
    except Exception as error:  # noqa: BLE001 — a broken install (missing CUDA libraries, ...)
        raise LivestyleError(f"{module}: import failed ({error})") from None
