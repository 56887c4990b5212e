"""What a command reads and writes, declared once: the checks before the work follow from it.

Every command that writes builds one `Declaration` from its parsed arguments and calls `check()` before
any work. Two kinds of output:

* a *user output* (`Output(..., owned=False)`: a video's OUT, a data set's `--out`, evaluate's `--out`):
  refused if it exists, unless `--overwrite`; published without replacing a file that appeared meanwhile
  (livestyle.core.files, replace=False);
* an *owned* output (`owned=True`: a run's own checkpoints, the backend timing cache, live `--stats` and
  `--dump-last`, the engine folder, benchmark pages): the command's own file or folder, replaced by
  design, as docs/guarantees.md says.

For both: apart from every input (also through links), an existing one writable itself (not only its
folder: an immutable file cannot be replaced), its folder able to take a new file. Tests run each command
under `sys.addaudithook` and fail on a write outside `covers()`.
"""
from __future__ import annotations

import contextlib
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from livestyle.core.errors import LivestyleError
from livestyle.core.files import check_apart, check_writable

_IMMUTABLE = 0x00000010 | 0x00000020  # FS_IMMUTABLE_FL | FS_APPEND_FL (linux/fs.h): not even root replaces it
_GET_FLAGS = 0x80086601  # FS_IOC_GETFLAGS


def unchangeable(path: Path) -> bool:
    """True for a file marked immutable or append-only (chattr +i / +a), where the file system says so."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        buffer = bytearray(8)
        fcntl.ioctl(fd, _GET_FLAGS, buffer)
        return bool(int.from_bytes(buffer[:4], "little") & _IMMUTABLE)
    except OSError:  # a file system without such flags (tmpfs, FAT)
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Output:
    """One thing a command writes. label: the flag or name a user knows it by."""
    label: str
    path: Path
    folder: bool = False
    owned: bool = False
    best_effort: bool = False  # written if it can be (a cache): not checked before, a failure only warns
    if_present: str = ""  # what else to do when it exists ("use it as --data")

    def describe(self) -> str:
        return f"{self.label} {self.path}"


Paths = Path | str | None | list | tuple


@dataclass(frozen=True)
class Declaration:
    """A command's inputs (label -> path or paths) and outputs, and whether --overwrite was given."""
    command: str
    inputs: Mapping[str, Paths] = field(default_factory=dict)
    outputs: tuple[Output, ...] = ()
    overwrite: bool = False

    def check(self) -> None:
        """Before any work: outputs apart from inputs, user outputs absent (or --overwrite), anything existing
        replaceable, every folder able to take a new file. One LivestyleError line otherwise."""
        check_apart({output.label: output.path for output in self.outputs}, self.inputs)
        for output in self.outputs:
            path = output.path
            if output.best_effort:
                continue
            if os.path.lexists(path):
                if not output.owned and not self.overwrite:
                    also = f"{output.if_present}, " if output.if_present else ""
                    raise LivestyleError(f"{output.describe()} already exists; {also}add --overwrite to replace it, or "
                                         f"choose another {'folder' if output.folder else 'name'}")
                if not output.folder and unchangeable(path):
                    raise LivestyleError(f"{output.describe()} is marked immutable or append-only (chattr): "
                                         f"it cannot be replaced; remove the mark or choose another name")
                if not output.folder and os.path.isfile(path) and not os.access(path, os.W_OK):
                    raise LivestyleError(f"{output.describe()} is read-only: it cannot be replaced; make it writable "
                                         f"(chmod u+w) or choose another name")
            check_writable(path, output.label, folder=output.folder)

    def covers(self, path: str | Path) -> bool:
        """Whether writing `path` is within the declaration: an output, inside an output folder, one of our
        temporary, trial or kept-beside names next to an output file, a folder on the way to an output, or
        the probe check_writable makes in a folder on the way."""
        target = _absolute(path)
        if _library_scratch(target) or target == Path(os.devnull):  # a probe's silenced output changes nothing
            return True
        for output in self.outputs:  # made and removed at once in the nearest folder that exists
            declared = _absolute(output.path)
            probes = (".livestyle-probe.*", f".{declared.stem}.*.trial{declared.suffix}")
            if any(fnmatch.fnmatch(target.name, probe) for probe in probes) and \
                    _on_the_way(target.parent, declared):
                return True
        for output in self.outputs:
            declared = _absolute(output.path)
            if target == declared or (output.folder and target.is_relative_to(declared)):
                return True
            if _on_the_way(target, declared) and not isinstance(path, Removal):  # a parent folder made for it
                return True
            if target.parent == declared.parent and _beside(target.name, declared):
                return True
            if output.folder and target.is_relative_to(declared.parent) and target != declared.parent:
                first = target.relative_to(declared.parent).parts[0]  # inside the folder being built beside it
                if _beside(first, declared):
                    return True
        return False


# What the libraries we call make for themselves in the system's temporary folder (torch: its kernel cache).
LIBRARY_SCRATCH = ("torchinductor_*",)


def _library_scratch(target: Path) -> bool:
    import tempfile

    scratch = _absolute(tempfile.gettempdir())
    if not target.is_relative_to(scratch) or target == scratch:
        return False
    first = target.relative_to(scratch).parts[0]
    return any(fnmatch.fnmatch(first, pattern) for pattern in LIBRARY_SCRATCH)


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(os.fspath(path)))


def _on_the_way(folder: Path, declared: Path) -> bool:
    return folder != declared and declared.is_relative_to(folder)


def _beside(name: str, declared: Path) -> bool:
    """Our own names next to a declared output: `.STEM.*.partial.EXT` / `.trial.EXT` (mkstemp), a folder's
    `.NAME.*.partial` / `.old`, and `STEM.livestyle-N.EXT` (a result kept beside a file that appeared)."""
    stem, suffix = declared.stem, declared.suffix
    patterns = (f".{stem}.*.partial{suffix}", f".{stem}.*.trial{suffix}", f"{stem}.livestyle-*{suffix}",
                f".{declared.name}.*.partial", f".{declared.name}.*.old", f"{declared.name}.livestyle-*")
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


class Removal(str):
    """A recorded path that was removed (os.remove, os.rmdir, shutil.rmtree): making a folder on the way to an
    output is declared by the output, removing one is not."""


@contextlib.contextmanager
def recording_writes():
    """Every path opened for writing, made, renamed or replaced inside the block (sys.addaudithook; for
    tests: an audit hook cannot be removed, so it records only while a block is open)."""
    import sys

    written: list[str] = []
    state = _RECORDER
    if not state["installed"]:
        sys.addaudithook(_record)
        state["installed"] = True
    state["stack"].append(written)
    try:
        yield written
    finally:
        state["stack"].remove(written)


_RECORDER: dict = {"installed": False, "stack": []}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _record(event: str, args: tuple) -> None:
    stack = _RECORDER["stack"]
    if not stack:
        return
    paths: list = []
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1], args[2]
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writes:
            paths = [args[0]]
    elif event in ("os.rename", "os.link"):  # os.replace raises os.rename too
        paths = [args[1]] if args[3] in (None, -1) else []  # (src, dst, src_dir_fd, dst_dir_fd); -1: none
    elif event == "os.symlink":
        paths = [args[1]] if args[2] in (None, -1) else []
    elif event == "os.mkdir":
        paths = [args[0]] if args[2] in (None, -1) else []
    elif event in ("os.remove", "os.rmdir", "shutil.rmtree"):
        paths = [args[0]] if args[1] in (None, -1) else []  # names relative to a folder rmtree holds open: its own
    for path in paths:
        if isinstance(path, int):
            continue
        text = os.fsdecode(path)
        if event in ("os.remove", "os.rmdir", "shutil.rmtree"):
            text = Removal(text)
        for written in stack:
            written.append(text)
