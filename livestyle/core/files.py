"""Every file livestyle writes goes through here, and every command checks its outputs here first.

Writes are atomic and cannot be redirected: the temporary file is made by `tempfile.mkstemp`
(a random name opened with O_EXCL, so a link planted under any name we might use is never
followed) in the target's own folder, written, fsynced and moved over the target with
`os.replace`, then the folder is fsynced. On any failure (a full disk, Ctrl+C, a library error)
the temporary file is removed and the target is left as it was. Folders (data sets) are built
the same way in a `tempfile.mkdtemp` folder and renamed into place.

Before any work, a command calls `check_apart` (no output is, contains or lies inside one of its
inputs) and `check_writable` (the folder an output will go to can take a new file: made and
removed with mkstemp, never a guessable name), so a read-only disk or a typo costs seconds, not
the minutes of work before the write. Any OSError becomes one line naming the path and the fix.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator, Mapping

import cv2

from livestyle.core.errors import LivestyleError, WorkFailed

FIXES = {
    errno.ENOSPC: "the disk is full: free some space or choose another folder",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another folder",
    errno.EROFS: "the file system is read-only: choose a folder you can write to",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "not permitted: choose a folder you can write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder: name a file instead",
    errno.ENOENT: "a folder on the way does not exist: create it or choose another path",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
    errno.EEXIST: "it exists already: choose another path",
}


def describe(error: OSError, path: str | Path | None = None, doing: str = "cannot write") -> str:
    """One line for an OSError: what, where, and what to do."""
    where = path if path is not None else (error.filename or "?")
    fix = FIXES.get(error.errno, error.strerror or str(error)) if error.errno is not None else str(error)
    return f"{doing} {where}: {fix}"


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened or synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temporary_name(target: Path) -> tuple[str, str]:
    # The real suffix stays last: libraries that pick a format by the extension (PyAV) still can.
    return f".{target.stem}.", f".partial{target.suffix}"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once at import: os.umask can only be read by setting it


def _mode_for(target: Path) -> int:
    """mkstemp makes a 0600 file; the result gets the mode a plain open() would give it (or keeps
    the mode of the file it replaces), so weights and engines stay readable as before."""
    try:
        return target.stat().st_mode & 0o777 if target.is_file() and not target.is_symlink() else 0o666 & ~_UMASK
    except OSError:
        return 0o666 & ~_UMASK


def _rename_noreplace(source: Path, target: Path) -> None:
    """rename(2) that fails with EEXIST when the target exists (Linux renameat2 RENAME_NOREPLACE)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):  # no C library to load by that name (Windows)
        raise OSError(errno.ENOSYS, "renameat2 is not available") from None
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    at_cwd, noreplace = -100, 1
    if renameat2(at_cwd, os.fsencode(source), at_cwd, os.fsencode(target), noreplace) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(target))


_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}


def _publish_new(temporary: Path, target: Path) -> None:
    """Give the finished file its name only if nothing has that name: a hard link fails with EEXIST
    where a file appeared (even a link), and never replaces it; file systems without hard links (FAT,
    some network shares) get renameat2's RENAME_NOREPLACE, and failing that a check just before the
    rename."""
    try:
        os.link(temporary, target, follow_symlinks=False)
    except OSError as error:
        if error.errno not in _NO_LINKS:
            raise
    else:
        temporary.unlink()
        return
    _rename_new(temporary, target)


def _rename_new(source: Path, destination: Path) -> None:
    """rename(2) onto a name nothing has: RENAME_NOREPLACE, or where the file system lacks it a check just
    before a plain rename; EEXIST (or ENOTEMPTY) if something has the name."""
    try:
        _rename_noreplace(source, destination)
    except OSError as error:
        if error.errno not in (*_NO_LINKS, errno.EINVAL, errno.ENOSYS):
            raise
        if os.path.lexists(destination):
            raise OSError(errno.EEXIST, "File exists", str(destination)) from None
        os.rename(source, destination)


def _kept_beside(temporary: Path, target: Path) -> Path:
    """Our finished result under a free name beside a target that appeared meanwhile."""
    for number in range(1, 1000):
        beside = target.with_name(f"{target.stem}.livestyle-{number}{target.suffix}")
        try:
            _publish_new(temporary, beside)
            return beside
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free name beside it", str(target))


def _appeared(target: Path, kept: Path) -> WorkFailed:
    return WorkFailed(f"{target} appeared while livestyle was writing it (another program made it) and was left "
                      f"untouched; our result is kept as {kept} (rename it, or run again with --overwrite)")


@contextlib.contextmanager
def atomic_path(target: str | Path, *, replace: bool = True) -> Iterator[Path]:
    """A new, empty, private file in the target's folder for a library that wants a path (PyAV,
    TensorRT); it becomes the target when the block ends without an error, else is removed.

    replace=False is for a user's output that must not exist (no --overwrite): the file is published
    only under a free name, so one that another program made while we worked is never replaced; we
    keep ours beside it (NAME.livestyle-1.EXT) and raise WorkFailed (exit 1) naming both."""
    target = Path(target)
    prefix, suffix = _temporary_name(target)
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    except OSError as error:
        raise WorkFailed(describe(error, target)) from None
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        try:
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(temporary, _mode_for(target))
            if replace:
                os.replace(temporary, target)
            else:
                try:
                    _publish_new(temporary, target)
                except FileExistsError:
                    kept = _kept_beside(temporary, target)
                    _fsync_folder(target.parent)
                    raise _appeared(target, kept) from None
        except OSError as error:
            raise WorkFailed(describe(error, target)) from None
        _fsync_folder(target.parent)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


@contextlib.contextmanager
def atomic_writer(target: str | Path, *, replace: bool = True) -> Iterator[IO[bytes]]:
    """A binary file object (torch.save, streamed writes) whose content becomes the target at the
    end of the block (replace: as atomic_path); on any error nothing is left behind and the target
    is unchanged."""
    with atomic_path(target, replace=replace) as temporary:
        try:
            with open(temporary, "wb") as handle:
                yield handle
        except OSError as error:
            raise WorkFailed(describe(error, target)) from None


def write_bytes(target: str | Path, data: bytes, *, replace: bool = True) -> Path:
    with atomic_writer(target, replace=replace) as handle:
        handle.write(data)
    return Path(target)


def write_text(target: str | Path, text: str, *, replace: bool = True) -> Path:
    return write_bytes(target, text.encode(), replace=replace)


def write_json(target: str | Path, value, *, replace: bool = True) -> Path:
    return write_bytes(target, (json.dumps(value, indent=2) + "\n").encode(), replace=replace)


def make_folder(folder: Path) -> None:
    """The folder and any missing parents; one LivestyleError line when they cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LivestyleError(describe(error, folder)) from None


def write_stats(path: Path, data: dict) -> None:
    """A run's numbers (--stats) as JSON, its folder made first."""
    make_folder(path.parent)
    write_json(path, data)


def append_line(target: str | Path, line: str) -> None:
    """A line added to a log that is the command's own output (metrics.jsonl): appended, not
    rewritten, so a crash loses at most the line being written."""
    try:
        with open(target, "a") as handle:
            handle.write(line.rstrip("\n") + "\n")
    except OSError as error:
        raise WorkFailed(describe(error, target)) from None


@contextlib.contextmanager
def folder_under_construction(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """A new private folder next to the target; at the end of the block it becomes the target
    (replacing an existing one only with overwrite=True), on any error it is removed."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as error:
        raise LivestyleError(describe(error, target)) from None
    try:
        yield temporary
        try:
            os.chmod(temporary, 0o777 & ~_UMASK)  # private (mkdtemp's 0700) while built; then a plain folder's mode
        except OSError as error:
            raise WorkFailed(describe(error, target)) from None
        _move_folder_into_place(temporary, target, overwrite)
        _fsync_folder(target.parent)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _move_folder_into_place(temporary: Path, target: Path, overwrite: bool) -> None:
    if not overwrite:
        _publish_new_folder(temporary, target)
        return
    old = None
    try:
        if target.exists() and overwrite:  # a folder can only be renamed onto an empty one
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
        try:
            os.replace(temporary, target)
        except OSError:
            if old is not None:
                os.replace(old / target.name, target)
            elif target.exists():  # another process finished the same folder meanwhile
                raise LivestyleError(f"{target} appeared while it was being written; choose another folder, "
                                     "or add --overwrite to replace it") from None
            raise
    except OSError as error:
        raise WorkFailed(describe(error, target)) from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _publish_new_folder(temporary: Path, target: Path) -> None:
    """The finished folder takes its name only if nothing has it (not even an empty folder made meanwhile);
    else it is kept beside under a free name and WorkFailed names both."""
    try:
        try:
            _rename_new(temporary, target)
            return
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        for number in range(1, 1000):
            beside = target.with_name(f"{target.name}.livestyle-{number}")
            try:
                _rename_new(temporary, beside)
            except OSError as error:
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    continue
                raise
            raise _appeared(target, beside)
        raise OSError(errno.EEXIST, "no free name beside it", str(target))
    except OSError as error:
        raise WorkFailed(describe(error, target)) from None


# ----------------------------------------------------------------------------- checks before the work

def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path.parent != path:
        path = path.parent
    return path


def check_writable(target: str | Path, what: str, *, folder: bool = False) -> Path:
    """Check, before any work, that `target` (a file, or with folder=True a folder) can be written:
    its nearest existing parent is a folder that takes a new file. Creates nothing that stays."""
    target = Path(target)
    if os.path.lexists(target):
        if folder and not target.is_dir():
            raise LivestyleError(f"{what} {target} is a file, not a folder; choose a folder")
        if not folder and target.is_dir():
            raise LivestyleError(f"{what} {target} is a folder; name a file instead")
    parent = target if folder and target.is_dir() else _nearest_existing(target.parent)
    if not parent.is_dir():
        raise LivestyleError(f"{what} {target}: {parent} is a file, not a folder; choose another path")
    try:
        fd, probe = tempfile.mkstemp(prefix=".livestyle-probe.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise LivestyleError(f"{what} {target}: {describe(error, parent, 'cannot write in')}") from None
    return target


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _related(output: Path, input_: Path) -> str | None:
    if output == input_:
        return "is"
    if input_.is_relative_to(output):
        return "contains"
    if output.is_relative_to(input_):
        return "lies inside"
    return None


def check_apart(outputs: Mapping[str, str | Path | None],
                inputs: Mapping[str, str | Path | list | tuple | None]) -> None:
    """Refuse, before any work, an output that is, contains or lies inside one of the inputs.
    Keys name the flag (`--out`, `IN`), values are paths (or lists of paths for inputs)."""
    for out_label, output in outputs.items():
        if output is None:
            continue
        out_path = _resolved(output)
        for in_label, paths in inputs.items():
            for input_ in paths if isinstance(paths, (list, tuple)) else [paths]:
                if input_ is None:
                    continue
                in_path = _resolved(input_)
                relation = _related(out_path, in_path)
                if relation is None and out_path.exists() and in_path.exists():
                    with contextlib.suppress(OSError):
                        relation = "is" if os.path.samefile(out_path, in_path) else None
                if relation:
                    raise LivestyleError(f"{out_label} {output} {relation} {in_label} {input_}: livestyle never "
                                         f"writes over its input; choose an output outside it")


def write_image(target: str | Path, bgr, params: tuple[int, ...] = ()) -> Path:
    """An OpenCV image (BGR uint8), encoded by the target's extension and written atomically."""
    target = Path(target)
    ok, encoded = cv2.imencode(target.suffix or ".png", bgr, list(params))
    if not ok:
        raise LivestyleError(f"cannot encode an image as {target.suffix or '.png'} for {target}")
    return write_bytes(target, encoded.tobytes())


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
