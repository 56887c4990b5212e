"""The files that ship inside livestyle (livestyle/assets: the face detector, the demo models), each checked
against livestyle/assets/SHA256SUMS before it is used: a damaged or replaced file is one line that says to
reinstall, never an OpenCV or safetensors traceback. The scripts that make these files
(scripts/convert_blazeface.py, scripts/make_demo_model.py) write their line of SHA256SUMS with them."""
from __future__ import annotations

import functools
import os
from pathlib import Path

from livestyle.core import ASSETS
from livestyle.core.errors import LivestyleError
from livestyle.core.files import sha256_file, write_text

SUMS = ASSETS / "SHA256SUMS"
REINSTALL = "reinstall livestyle (in a clone: git checkout -- livestyle/assets, then pip install -e .)"


def expected_sums() -> dict[str, str]:
    """name -> sha256, as `sha256sum` writes them (and `sha256sum -c` checks them)."""
    try:
        lines = SUMS.read_text().splitlines()
    except OSError:
        raise LivestyleError(f"{SUMS} is missing; {REINSTALL}") from None
    sums = {}
    for line in lines:
        digest, _, name = line.strip().partition("  ")
        if len(digest) == 64 and name:
            sums[name.lstrip("*")] = digest
    return sums


@functools.lru_cache(maxsize=16)
def _digest(path: Path, size: int, modified: int) -> str:  # once per file version, not per use
    return sha256_file(path)


def bundled(name: str, what: str) -> Path:
    """The path of a bundled file after checking it is there and is the file livestyle shipped."""
    path = ASSETS / name
    sums = expected_sums()
    if name not in sums:
        raise LivestyleError(f"{path}: {SUMS.name} has no line for it; {REINSTALL}")
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise LivestyleError(f"the bundled {what} {path} is missing; {REINSTALL}") from None
    except OSError as error:
        raise LivestyleError(f"the bundled {what} {path} cannot be read ({error.strerror}); {REINSTALL}") from None
    if _digest(path, status.st_size, status.st_mtime_ns) != sums[name]:
        raise LivestyleError(f"the bundled {what} {path} is damaged or was replaced (its sha256 is not the one in "
                             f"{SUMS.name}); {REINSTALL}")
    return path


def record(name: str) -> None:
    """Write the bundled file's current sha256 into SHA256SUMS (for the scripts that make the file)."""
    sums = expected_sums() if SUMS.is_file() else {}
    sums[name] = sha256_file(ASSETS / name)
    write_text(SUMS, "".join(f"{digest}  {file}\n" for file, digest in sorted(sums.items())))
