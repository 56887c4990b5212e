"""The bad-input matrix's shared checks: a command's main() called in-process must end with one
line on stderr (no traceback), a non-zero exit code, and no change on disk outside its output.

    before = snapshot(tmp_path)
    code, err = call(main, [...], capsys)
    assert_refused(code, err, "manifest.json", "field 'oracle'")
    assert_unchanged(before, snapshot(tmp_path))
"""
from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every file (hidden ones too) and a marker for every folder and link under the roots."""
    seen = {}
    for root in roots:
        root = Path(root)
        if not os.path.lexists(root):
            continue
        for path in [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]:
            if path.is_symlink():
                seen[str(path)] = "link -> " + os.readlink(path)
            elif path.is_dir():
                seen[str(path)] = "folder"
            else:
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def assert_unchanged(before: dict[str, str], after: dict[str, str], *, allowed: tuple[str | Path, ...] = ()) -> None:
    """Nothing added, removed or changed, except paths under `allowed` (the command's output)."""
    allowed_paths = [str(Path(a)) for a in allowed]

    def free(path: str) -> bool:
        return not any(path == a or path.startswith(a + os.sep) for a in allowed_paths)

    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p) and free(p)}
    assert not changed, f"changed on disk: {sorted(changed)}"


def call(main, argv: list, capsys) -> tuple[int, str]:
    """Run a command's main(argv) in-process; its exit code and what it printed to stderr."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse errors
        code = stop.code if isinstance(stop.code, int) else 1
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, *fragments: str) -> None:
    """Non-zero exit, one line on stderr that is not a traceback and contains each fragment."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code not in (0, None), f"exit code {code}; stderr: {err!r}"
    assert "Traceback" not in err, err
    assert lines, "nothing printed on stderr"
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1, f"expected one error line, got: {lines}"
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"


def os_error(code: int, path: str = "") -> OSError:
    """An OSError as the kernel would raise it (ENOSPC: full disk, EROFS: read-only file system).
    CI runs as root, where chmod cannot make a folder read-only, so tests raise these instead."""
    return OSError(code, os.strerror(code), path)


ENOSPC, EROFS = errno.ENOSPC, errno.EROFS
