"""livestyle.core.files: atomic writes that a planted link cannot redirect, nothing left behind on a
failure (a real full disk where this machine can mount one), output checks before the work."""
from __future__ import annotations

import errno
import os
import tempfile

import pytest

from livestyle.core import files
from livestyle.core.errors import LivestyleError, WorkFailed


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("another user's file")
    return path


def test_write_is_atomic_and_leaves_only_the_target(tmp_path):
    target = tmp_path / "stats.json"
    files.write_json(target, {"fps": 30})
    files.write_json(target, {"fps": 31})
    assert target.read_text() == '{\n  "fps": 31\n}\n'
    assert os.listdir(tmp_path) == ["stats.json"]


def test_links_planted_at_the_temp_names_do_not_redirect_a_write(tmp_path, victim, monkeypatch):
    """Whatever name the temporary file gets, a link already there is not followed: mkstemp opens
    with O_EXCL and takes the next name. The random names are made predictable here, links are
    planted at the first few, and the write still lands only in the target."""
    target = tmp_path / "out.json"
    names = iter(["planted0", "planted1", "planted2", "fresh", "fresh2"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: names)
    prefix, suffix = files._temporary_name(target)
    for index in range(3):
        os.symlink(victim, tmp_path / f"{prefix}planted{index}{suffix}")
    os.symlink(victim, tmp_path / ".out.json.tmp")  # the guessable name older versions used
    files.write_json(target, {"ok": True})
    assert victim.read_text() == "another user's file"
    assert target.read_text() == '{\n  "ok": true\n}\n' and not target.is_symlink()


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path, victim):
    target = tmp_path / "stats.json"
    os.symlink(victim, target)
    files.write_text(target, "ours")
    assert victim.read_text() == "another user's file"
    assert not target.is_symlink() and target.read_text() == "ours"


def test_a_failure_mid_write_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_writer(target) as handle:
            handle.write(b"half of the new")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.bin"]


def test_a_full_disk_is_one_line_and_leaves_nothing(small_disk):
    disk = small_disk(64)
    target = disk / "engine.onnx"
    target.write_bytes(b"the previous engine")
    with pytest.raises(LivestyleError, match="disk is full") as caught:
        files.write_bytes(target, b"x" * 200_000)
    assert "\n" not in str(caught.value) and str(target) in str(caught.value)
    assert target.read_bytes() == b"the previous engine" and os.listdir(disk) == ["engine.onnx"]


def test_check_writable_catches_what_would_fail_later(tmp_path, small_disk):
    (tmp_path / "file").write_text("x")
    with pytest.raises(LivestyleError, match="is a file, not a folder"):
        files.check_writable(tmp_path / "file" / "stats.json", "--stats")
    with pytest.raises(LivestyleError, match="is a folder; name a file"):
        files.check_writable(tmp_path, "--stats")
    with pytest.raises(LivestyleError, match="read-only"):
        files.check_writable(small_disk(16, readonly=True) / "x" / "stats.json", "--stats")
    files.check_writable(tmp_path / "new" / "deeper" / "stats.json", "--stats")
    assert sorted(os.listdir(tmp_path)) == ["disk0", "file"]  # the check created nothing


@pytest.mark.parametrize("output,inputs,relation", [
    ("in", {"--game": ["in"]}, "is --game"),
    ("in/sub", {"--game": ["in"]}, "lies inside --game"),
    (".", {"--game": ["in/clip.mp4"]}, "contains --game"),
    ("alias", {"--game": ["in"]}, "is --game"),           # a link to the input folder
    ("hard.mp4", {"IN": ["in/clip.mp4"]}, "is IN"),      # a hard link to the input file
])
def test_outputs_are_kept_apart_from_inputs(tmp_path, monkeypatch, output, inputs, relation):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "clip.mp4").write_bytes(b"footage")
    os.symlink(tmp_path / "in", tmp_path / "alias")
    os.link(tmp_path / "in" / "clip.mp4", tmp_path / "hard.mp4")
    with pytest.raises(LivestyleError, match=relation):
        files.check_apart({"--out": output}, inputs)


def test_separate_paths_pass(tmp_path):
    files.check_apart({"--out": tmp_path / "out", "--stats": None}, {"--game": [tmp_path / "in"], "--movie": None})


def test_a_folder_under_construction_replaces_the_old_only_when_complete(tmp_path):
    target = tmp_path / "data"
    target.mkdir()
    (target / "old.png").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.folder_under_construction(target, overwrite=True) as building:
            (building / "new.png").write_bytes(b"new")
            raise RuntimeError("decoding failed")
    assert os.listdir(target) == ["old.png"] and os.listdir(tmp_path) == ["data"]
    with files.folder_under_construction(target, overwrite=True) as building:
        (building / "new.png").write_bytes(b"new")
    assert os.listdir(target) == ["new.png"] and os.listdir(tmp_path) == ["data"]


def test_written_files_get_the_usual_mode(tmp_path):
    target = tmp_path / "game2movie.safetensors"
    files.write_bytes(target, b"w")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() would make it, not mkstemp's 0600
    target.chmod(0o640)
    files.write_bytes(target, b"w2")
    assert target.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode


# ----------------------------------------------------------------------------- no clobbering (issue 26)

def test_a_new_file_never_replaces_one_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(WorkFailed) as raised:
        with files.atomic_writer(target, replace=False) as handle:
            handle.write(b"our result")
            target.write_bytes(b"another program's file")  # made while we worked
    kept = tmp_path / "out.livestyle-1.mp4"
    assert target.read_bytes() == b"another program's file" and kept.read_bytes() == b"our result"
    message = str(raised.value)
    assert raised.value.exit_code == 1 and str(target) in message and str(kept) in message
    assert len(message.splitlines()) == 1 and sorted(os.listdir(tmp_path)) == ["out.livestyle-1.mp4", "out.mp4"]


def test_a_link_that_appeared_meanwhile_is_neither_followed_nor_replaced(tmp_path, victim):
    target = tmp_path / "out.txt"
    with pytest.raises(WorkFailed):
        with files.atomic_writer(target, replace=False) as handle:
            handle.write(b"ours")
            target.symlink_to(victim)
    assert target.is_symlink() and victim.read_text() == "another user's file"
    assert (tmp_path / "out.livestyle-1.txt").read_bytes() == b"ours"


def test_a_new_file_takes_a_free_name_and_replace_still_replaces(tmp_path):
    target = tmp_path / "out.txt"
    files.write_text(target, "first", replace=False)
    assert target.read_text() == "first" and os.listdir(tmp_path) == ["out.txt"]
    files.write_text(target, "second")  # replace=True: an owned file, or --overwrite
    assert target.read_text() == "second" and os.listdir(tmp_path) == ["out.txt"]


def test_without_hard_links_the_no_replace_rename_still_refuses(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "out.txt"
    files.write_text(target, "first", replace=False)
    with pytest.raises(WorkFailed):
        with files.atomic_writer(target, replace=False) as handle:
            handle.write(b"ours")
    assert target.read_text() == "first" and (tmp_path / "out.livestyle-1.txt").read_bytes() == b"ours"


def test_a_folder_that_appeared_meanwhile_even_empty_is_kept(tmp_path):
    target = tmp_path / "data"
    with pytest.raises(WorkFailed) as raised:
        with files.folder_under_construction(target) as building:
            (building / "manifest.json").write_text("{}")
            target.mkdir()  # another program made it, empty: a plain rename would have replaced it
    assert os.listdir(target) == [] and os.listdir(tmp_path / "data.livestyle-1") == ["manifest.json"]
    assert "data.livestyle-1" in str(raised.value) and raised.value.exit_code == 1


def test_a_data_set_gets_the_umask_mode_not_mkdtemp_s(tmp_path):
    """mkdtemp builds the folder private (0700); once complete it gets what mkdir would give it (755 under 022)."""
    import subprocess
    import sys

    out = tmp_path / "set"
    argv = ["frames", "--out", str(out), "--count", "10", "--image-size", "16", "--quiet"]
    code = f"import os, sys; os.umask(0o022); from training import synth; sys.exit(synth.main({argv!r}))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o755 and (out / "train").stat().st_mode & 0o777 == 0o755
