"""Nothing read is trusted: the small schema checks every file format goes through, and the bounds
every size and count is held to before anything is allocated.

A file that fails a check becomes one LivestyleError line naming the file, the field and the fix
(`FileCheck.fail`); callers that choose among many files (engine sidecars) skip such a file with
a warning instead of failing. Numbers from the command line go through `finite_float` /
`bounded_int` so NaN, infinities and absurd sizes stop at argument parsing.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import MAX_SIDE

MAX_FEATURES = 1024      # generator / discriminator width N (the report uses 64 and 32)
MAX_JSON_BYTES = 64 << 20  # a sidecar, manifest or config larger than this is not ours

_MISSING = object()


class FileCheck:
    """Reads fields of one parsed file, each checked for type and range.

    `fix` is what the user should do when anything is wrong (e.g. "rebuild it with ...")."""

    def __init__(self, path: str | Path, fix: str, value: Any = _MISSING, error: type[LivestyleError] = LivestyleError):
        self.path, self.fix, self.error = Path(path), fix, error
        self.value = value

    def fail(self, problem: str) -> LivestyleError:
        return self.error(f"{self.path}: {problem}; {self.fix}")

    def load_json(self) -> Any:
        """The file parsed as JSON: missing, unreadable, huge or malformed files fail in one line."""
        try:
            size = self.path.stat().st_size
            if size > MAX_JSON_BYTES:
                raise self.fail(f"{size / 2**20:.0f} MiB is far too large for this file")
            self.value = json.loads(self.path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise self.fail("not found") from None
        except OSError as error:
            raise self.fail(f"cannot be read ({error.strerror or error})") from None
        except UnicodeDecodeError:
            raise self.fail("is not text (UTF-8)") from None
        except json.JSONDecodeError as error:
            raise self.fail(f"is not valid JSON ({error.msg} at line {error.lineno})") from None
        except RecursionError:
            raise self.fail("is nested too deeply to be ours") from None
        return self.value

    def mapping(self, value: Any = _MISSING, what: str = "the file") -> dict:
        value = self.value if value is _MISSING else value
        if not isinstance(value, dict):
            raise self.fail(f"{what} should be a JSON object, not {_kind(value)}")
        return value

    def get(self, container: dict, key: str, kind: type | tuple[type, ...], *, required: bool = True,
            default: Any = None, low: float | None = None, high: float | None = None,
            choices: tuple | None = None, name: str | None = None) -> Any:
        """container[key], checked: type (bool is never an int here), finite numbers in [low, high],
        a member of choices. A missing optional key gives default."""
        name = name or key
        if key not in container or container[key] is None and not required:
            if required:
                raise self.fail(f"field '{name}' is missing")
            return default
        value = container[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise self.fail(f"field '{name}' should be {' or '.join(_type_name(k) for k in kinds)}, "
                            f"not {_kind(value)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise self.fail(f"field '{name}' is {value}, not a finite number")
            if low is not None and value < low or high is not None and value > high:
                raise self.fail(f"field '{name}' is {value}, outside {low:g}..{high:g}")
        if choices is not None and value not in choices:
            raise self.fail(f"field '{name}' is {value!r}, not one of {', '.join(map(repr, choices))}")
        return value

    def size(self, container: dict, key: str, name: str | None = None) -> tuple[int, int]:
        """A [width, height] pair of whole numbers within 1..MAX_SIDE."""
        name = name or key
        value = self.get(container, key, list, name=name)
        if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE
                                      for v in value):
            raise self.fail(f"field '{name}' should be [width, height], whole numbers 1..{MAX_SIDE}, not {value!r}")
        return value[0], value[1]

    def inside(self, root: Path, relative: Any, name: str) -> Path:
        """A relative path from the file that must stay inside root (no '..', no absolute path, no link out)."""
        if not isinstance(relative, str) or not relative:
            raise self.fail(f"field '{name}' should be a relative path, not {_kind(relative)}")
        resolved_root = root.resolve()
        target = (resolved_root / relative).resolve()
        if Path(relative).is_absolute() or not target.is_relative_to(resolved_root):
            raise self.fail(f"field '{name}' ({relative}) points outside {root}")
        return root / relative


def _type_name(kind: type) -> str:
    return {dict: "an object", list: "a list", str: "text", int: "a whole number", float: "a number",
            bool: "true or false", type(None): "null"}.get(kind, kind.__name__)


def _kind(value: Any) -> str:
    return _type_name(type(value)) if not isinstance(value, (int, float)) or isinstance(value, bool) \
        else f"{_type_name(type(value))} ({value})"
