"""Bad inputs and faults for the training commands (prepare, synth, fit, evaluate): each ends in one
error line and a non-zero exit code, and nothing on disk changes outside the command's output."""
from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _matrix import assert_refused, assert_unchanged, call, snapshot
from conftest import TINY, write_random_dataset

from training import evaluate, fit, prepare, synth


def write_clip(path: Path, frames: int = 40) -> Path:
    """A small MJPG AVI of changing noise (usable frames, no near-duplicates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    rng = np.random.default_rng(1)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture
def footage(tmp_path) -> dict[str, Path]:
    return {"game": write_clip(tmp_path / "footage_game" / "game.avi"),
            "movie": write_clip(tmp_path / "footage_movie" / "movie.avi")}


@pytest.fixture
def data(tmp_path) -> Path:
    return write_random_dataset(tmp_path / "data", size=32, counts=(("train", 4), ("val", 2), ("test", 2)))


def prepare_args(footage, out, *extra):
    return ["frames", "--game", footage["game"].parent, "--movie", footage["movie"], "--out", out,
            "--count", "10", "--image-size", "16", "--quiet", *extra]


# ----------------------------------------------------------------------------- prepare

@pytest.mark.parametrize("where,relation", [
    ("footage_game", "is --game"),                 # the example: it deleted the footage
    ("footage_game/sub", "lies inside --game"),
    (".", "contains --game"),
])
def test_prepare_never_writes_over_its_input(tmp_path, footage, capsys, where, relation):
    before = snapshot(tmp_path)
    code, err = call(prepare.main, prepare_args(footage, tmp_path / where, "--overwrite"), capsys)
    assert_refused(code, err, relation, "never writes over its input")
    assert_unchanged(before, snapshot(tmp_path))


@pytest.mark.parametrize("extra,fragment", [
    (["--image-size", "65536"], "65536 is out of range"),
    (["--min-gap", "nan"], "finite"),
    (["--count", "0"], "0 is out of range"),
    (["--seed", "-1"], "-1 is out of range"),
])
def test_prepare_refuses_bad_numbers(tmp_path, footage, capsys, extra, fragment):
    before = snapshot(tmp_path)
    code, err = call(prepare.main, prepare_args(footage, tmp_path / "out", *extra), capsys)
    assert_refused(code, err, fragment)
    assert_unchanged(before, snapshot(tmp_path))


def test_prepare_on_a_read_only_disk_fails_before_decoding(tmp_path, footage, small_disk, capsys):
    out = small_disk(64, readonly=True) / "data"
    before = snapshot(tmp_path)
    code, err = call(prepare.main, prepare_args(footage, out), capsys)
    assert_refused(code, err, "--out", "read-only")
    assert_unchanged(before, snapshot(tmp_path))


def test_prepare_on_a_full_disk_leaves_nothing(tmp_path, footage, small_disk, capsys):
    disk = small_disk(48)
    before = snapshot(tmp_path)
    code, err = call(prepare.main, prepare_args(footage, disk / "data"), capsys)
    assert_refused(code, err)
    assert code == 1  # the disk filled up mid-run: the work failed, not the input
    assert list(disk.iterdir()) == []
    assert_unchanged(before, snapshot(tmp_path))


# ----------------------------------------------------------------------------- synth

@pytest.mark.parametrize("case,fragment", [
    ("parent_is_file", "is a file, not a folder"),
    ("huge_size", "65536 is out of range"),
    ("read_only", "read-only"),
])
def test_synth_checks_its_output_first(tmp_path, small_disk, capsys, case, fragment):
    (tmp_path / "notes.txt").write_text("mine")
    out, extra = tmp_path / "synth", []
    if case == "parent_is_file":
        out = tmp_path / "notes.txt" / "synth"
    elif case == "huge_size":
        extra = ["--image-size", "65536"]
    elif case == "read_only":
        out = small_disk(64, readonly=True) / "synth"
    before = snapshot(tmp_path)
    code, err = call(synth.main, ["faces", "--out", out, "--count", "10", "--image-size", "16", "--quiet", *extra],
                     capsys)
    assert_refused(code, err, fragment)
    assert_unchanged(before, snapshot(tmp_path))


def test_synth_on_a_full_disk_leaves_nothing_and_keeps_the_old_set(tmp_path, small_disk, capsys):
    disk = small_disk(96)
    old = disk / "synth"
    old.mkdir()
    (old / "keep.txt").write_text("an older data set")
    before = snapshot(tmp_path)
    code, err = call(synth.main, ["faces", "--out", old, "--count", "200", "--image-size", "64", "--quiet",
                                  "--overwrite"], capsys)
    assert_refused(code, err, "disk is full")
    assert code == 1
    assert sorted(p.name for p in disk.iterdir()) == ["synth"]
    assert_unchanged(before, snapshot(tmp_path))


# ----------------------------------------------------------------------------- fit

def fit_args(data, run_dir, *extra):
    return ["faces", "--data", data, "--run-dir", run_dir, *TINY, "--epochs", "1", "--limit", "4", "--no-eval",
            *extra]


@pytest.mark.parametrize("extra,fragment", [
    (["--image-size", "65536"], "65536 is out of range"),
    (["--lambdas", "nan,0.5,0.5"], "three non-negative numbers"),
    (["--lambdas", "inf,0,0"], "three non-negative numbers"),
    (["--lr-g", "nan"], "finite"),
    (["--lr-d", "0"], "above 0"),
    (["--batch-size", "0"], "0 is out of range"),
    (["--g-features", "100000"], "100000 is out of range"),
    (["--time-limit-minutes", "inf"], "finite"),
    (["--save-every-minutes", "-1"], "out of range"),
])
def test_fit_refuses_bad_numbers(tmp_path, data, capsys, extra, fragment):
    before = snapshot(tmp_path)
    code, err = call(fit.main, fit_args(data, tmp_path / "run", *extra), capsys)
    assert_refused(code, err, fragment)
    assert_unchanged(before, snapshot(tmp_path))


@pytest.mark.parametrize("manifest,fragment", [
    ("[1, 2, 3]", "should be a JSON object, not a list"),
    ('{"paired": "yes"}', "field 'paired' should be true or false"),
    ('{"paired": true}', "field 'oracle' is missing"),
    ('{"paired": true, "oracle": {"val": {"game": "../../etc", "movie": "val/movie"}}}', "points outside"),
    ('{"paired": true, "oracle": {"val": {"game": "/etc", "movie": "val/movie"}}}', "points outside"),
    ('{"paired": true, "oracle": {"val": {"game": 5, "movie": "val/movie"}}}', "should be text"),
    ('{"paired": false, "image_size": 1e9}', "field 'image_size' should be a whole number"),
])
def test_fit_checks_the_manifest(tmp_path, data, capsys, manifest, fragment):
    (data / "manifest.json").write_text(manifest)
    before = snapshot(tmp_path)
    code, err = call(fit.main, fit_args(data, tmp_path / "run"), capsys)
    assert_refused(code, err, "manifest.json", fragment)
    assert_unchanged(before, snapshot(tmp_path))


@pytest.mark.parametrize("case,fragment", [
    ("is_data", "is --data"),
    ("inside_data", "lies inside --data"),
    ("is_file", "is a file, not a folder"),
    ("not_empty", "already exists and is not empty"),
    ("read_only", "read-only"),
])
def test_fit_checks_the_run_folder_first(tmp_path, data, small_disk, capsys, case, fragment):
    run_dir = {"is_data": data, "inside_data": data / "train" / "run", "is_file": tmp_path / "notes.txt",
               "not_empty": tmp_path / "mine", "read_only": None}[case]
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("mine")
    if case == "read_only":
        run_dir = small_disk(64, readonly=True) / "run"
    before = snapshot(tmp_path)
    code, err = call(fit.main, fit_args(data, run_dir), capsys)
    assert_refused(code, err, fragment)
    assert_unchanged(before, snapshot(tmp_path))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run")
    data = write_random_dataset(root / "data", size=32, counts=(("train", 4), ("val", 2), ("test", 2)))
    run_dir = root / "run"
    assert fit.main([str(a) for a in fit_args(data, run_dir)]) == 0
    return run_dir


def copy_run(finished_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


@pytest.mark.parametrize("extra,fragment", [
    (["--lr-g", "0.01"], "--lr-g 0.01 (the run has 0.0002)"),
    (["--g-features", "16"], "--g-features 16 (the run has 8)"),
    (["--recipe", "report"], "--recipe report (the run has pyramid)"),
    (["--no-augment"], "--no-augment (the run has True)"),
])
def test_resume_refuses_changed_flags(finished_run, tmp_path, capsys, extra, fragment):
    run_dir = copy_run(finished_run, tmp_path)
    before = snapshot(tmp_path)
    code, err = call(fit.main, ["faces", "--run-dir", run_dir, "--resume", *extra], capsys)
    assert_refused(code, err, fragment, "leave these flags out")
    assert_unchanged(before, snapshot(tmp_path))


def test_resume_applies_the_flags_that_may_change(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path)
    assert fit.main(["faces", "--run-dir", str(run_dir), "--resume", "--epochs", "2", "--g-features", "8"]) == 0
    assert "applying --epochs 2 (was 1)" in capsys.readouterr().out
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]


@pytest.mark.parametrize("checkpoint,fragment", [
    (b"not a checkpoint at all", "cannot load checkpoint"),
    ({"weights": torch.zeros(3)}, "field 'config' is missing"),
    ("config_type", "field 'config.g_features' should be a whole number"),
    ("other_layout", "does not fit the networks"),
    ("best_score_text", "field 'best.score' should be"),
    ("order_past_data", "field 'order.movie' numbers images outside the 4 movie training images"),
    ("order_domains", "field 'order' should hold the domains game and movie, not 'game', 'sound'"),
    ("step_past_epoch", "field 'step_in_epoch' is 1000, past the"),
    ("pickled_object", "never unpickled"),
])
def test_resume_checks_the_checkpoint(finished_run, tmp_path, capsys, checkpoint, fragment):
    run_dir = copy_run(finished_run, tmp_path)
    last = run_dir / "checkpoints" / "last.pt"
    if isinstance(checkpoint, bytes):
        last.write_bytes(checkpoint)
    elif isinstance(checkpoint, dict):
        torch.save(checkpoint, last)
    else:
        state = torch.load(last, weights_only=True)
        if checkpoint == "config_type":
            state["config"]["g_features"] = "many"
        elif checkpoint == "best_score_text":
            state["best"] = {"score": "0.9", "epoch": 1, "metric": "val_cycle"}
        elif checkpoint == "order_past_data":
            state["order"] = {"game": torch.arange(4), "movie": torch.tensor([0, 1, 2, 99])}
        elif checkpoint == "order_domains":
            state["order"] = {"game": torch.arange(4), "sound": torch.arange(4)}
        elif checkpoint == "step_past_epoch":
            state["step_in_epoch"] = 1000
        elif checkpoint == "pickled_object":
            state["best"] = {"score": 0.5, "epoch": 1, "when": datetime.date(2026, 1, 1)}
        else:  # another layout: the generators' tensors of a wider network
            state["generators"] = {k: torch.zeros(2, *v.shape) for k, v in state["generators"].items()}
        torch.save(state, last)
    before = snapshot(tmp_path)
    code, err = call(fit.main, ["faces", "--run-dir", run_dir, "--resume"], capsys)
    assert_refused(code, err, fragment)
    assert code == 2 and "weights_only=False" not in err
    assert_unchanged(before, snapshot(tmp_path))


def test_resume_ignores_keys_it_does_not_know(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path)
    last = run_dir / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    state["notes"] = {"written by": "a later version"}
    torch.save(state, last)
    code, err = call(fit.main, ["faces", "--run-dir", run_dir, "--resume", "--no-eval"], capsys)
    assert code == 0, err


def test_full_disk_during_a_checkpoint_save_is_one_line_and_leaves_no_temp(tmp_path, data, small_disk, capsys):
    run_dir = small_disk(160) / "run"  # room for the config and logs, not for a checkpoint
    before = snapshot(tmp_path)
    code, err = call(fit.main, fit_args(data, run_dir), capsys)
    assert_refused(code, err, "last.pt", "disk is full")
    assert code == 1
    assert not [p for p in run_dir.rglob("*") if p.name.startswith(".")]
    assert_unchanged(before, snapshot(tmp_path), allowed=(run_dir,))


# ----------------------------------------------------------------------------- evaluate

@pytest.mark.parametrize("config,fragment", [
    ("[]", "should be a JSON object, not a list"),
    ('{"image_size": "big", "data": "x"}', "field 'image_size' should be a whole number"),
    ('{"image_size": 16}', "field 'data' is missing"),
    ("{oops", "not valid JSON"),
])
def test_evaluate_checks_the_run_config(finished_run, tmp_path, capsys, config, fragment):
    run_dir = copy_run(finished_run, tmp_path)
    (run_dir / "config.json").write_text(config)
    before = snapshot(tmp_path)
    code, err = call(evaluate.main, [run_dir], capsys)
    assert_refused(code, err, "config.json", fragment)
    assert_unchanged(before, snapshot(tmp_path))


def test_evaluate_refuses_to_write_into_the_data_set(finished_run, tmp_path, capsys):
    run_dir = copy_run(finished_run, tmp_path)
    before = snapshot(tmp_path)
    code, err = call(evaluate.main, [run_dir, "--data", run_dir], capsys)
    assert_refused(code, err, "lies inside --data")
    assert_unchanged(before, snapshot(tmp_path))


@pytest.mark.parametrize("extra,fragment", [
    (["--batch-size", "1000"], "more than the 4 training images per domain"),
    (["--crop", "--image-size", "512"], "smaller than --image-size 512"),
    (["--image-size", "100"], "use a multiple of 8"),
])
def test_a_refused_fit_leaves_no_run_folder(tmp_path, data, capsys, extra, fragment):
    run_dir = tmp_path / "runs" / "refused"
    code, err = call(fit.main, ["frames", "--data", data, "--run-dir", run_dir, *extra], capsys)
    assert_refused(code, err, fragment)
    assert code == 2 and not (tmp_path / "runs").exists()
