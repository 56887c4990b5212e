"""Choosing the model, backend and size of a run (livestyle.runtime.selection): sizes, --size auto, the
default model's order, the model's kind, the M key's next model."""
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from livestyle.core.errors import LivestyleError
from livestyle.model.generator import Generator
from livestyle.model.weights import save_generator
from livestyle.runtime import options, selection
from livestyle.runtime.backends import NAMES
from livestyle.runtime.machine import probe


@pytest.fixture
def weights(tiny_weights):
    threads = torch.get_num_threads()
    yield tiny_weights
    torch.set_num_threads(threads)  # torch-cpu sets it for the whole process


@pytest.fixture(scope="module")
def tiny():
    return Generator(features=8).eval()


def test_candidate_and_scaled_sizes():
    assert selection.candidate_sizes((1920, 1080)) == [(640, 360), (480, 272), (320, 184), (256, 144)]
    assert selection.candidate_sizes((2560, 1080))[0] == (640, 272)
    assert selection.candidate_sizes((300, 200)) == [(304, 200), (256, 168)]
    assert selection.scaled_size((1920, 1080), 0.5) == (960, 544)
    assert all(w % 8 == 0 and h % 8 == 0 for w, h in selection.candidate_sizes((1366, 768)))


def test_size_auto_picks_the_largest_that_fits(weights):
    lines = []
    choice = selection.ModelChoice(weights)
    fast = selection.choose_size(choice, "torch-cpu", (128, 96), 1.0, 1, Path("engines"), lines.append)
    assert fast.size == (128, 96)  # 1 fps: the largest fits
    slow = selection.choose_size(choice, "torch-cpu", (128, 96), 1000.0, 1, Path("engines"), lines.append)
    assert slow.size == selection.candidate_sizes((128, 96))[-1]  # nothing fits 1 ms: the smallest, with a note
    assert any("expect about" in line for line in lines)


def test_size_auto_tries_larger_exact_sizes_for_a_pyramid(tmp_path):
    from livestyle.model.generator import make_pyramid
    from livestyle.model.weights import save_generator
    assert selection.candidate_sizes((1366, 768), selection.AUTO_WIDTHS_ANY_SIZE, 1)[:3] == [
        (1280, 720), (960, 540), (640, 360)]
    path = tmp_path / "pyramid.safetensors"
    save_generator(make_pyramid(features=4, levels=2, band_features=4), path, "game2movie")
    lines = []
    chosen = selection.choose_size(selection.ModelChoice(path), "torch-cpu", (150, 100), 1.0, 1, tmp_path,
                                   lines.append)
    assert chosen.size == (150, 100)  # any size: the capture's own, not rounded to multiples of 8
    assert "150x100" in lines[0]


def make_runs(runs: Path, weights: Path, names) -> None:
    """A run folder per name with a copy of the weights, each newer than the one before."""
    for index, name in enumerate(names):
        path = runs / name / "game2movie.safetensors"
        path.parent.mkdir(parents=True)
        path.write_bytes(weights.read_bytes())
        os.utime(path, (1_000_000 + index, 1_000_000 + index))


def test_default_model_order(tmp_path, weights, monkeypatch):
    machine = probe()
    monkeypatch.setattr(selection, "DEMO_MODEL", tmp_path / "missing-demo.safetensors")
    runs, engines = tmp_path / "runs", tmp_path / "engines"
    with pytest.raises(LivestyleError, match="no model to run.*demo model.*missing-demo.safetensors.*training.fit"):
        selection.resolve_model(None, engines, runs, machine)
    make_runs(runs, weights, ("older", "newer"))
    choice = selection.resolve_model(None, engines, runs, machine)
    assert choice.weights == runs / "newer" / "game2movie.safetensors"
    assert choice.label == "newer/game2movie.safetensors"
    assert [c.weights.parent.name for c in selection.model_candidates(engines, runs, machine)] == ["newer", "older"]
    monkeypatch.setattr(selection, "DEMO_MODEL", weights)
    assert selection.model_candidates(engines, runs, machine)[-1].label == "demo model"
    with pytest.raises(LivestyleError, match="no such file"):
        selection.resolve_model(tmp_path / "nope.safetensors", engines, runs, machine)
    with pytest.raises(LivestyleError, match="folder without game2movie.safetensors"):
        selection.resolve_model(tmp_path, engines, runs, machine)
    engines.mkdir()
    engine = write_engine(engines / "game2movie-x-64x48-fp32.onnx", "runs/gone/game2movie.safetensors")
    with pytest.raises(LivestyleError, match=r"built from runs/gone/game2movie.safetensors \(its sidecar's "
                                             r"'weights.path'\), which is not here"):
        selection.resolve_model(engine, engines, runs, machine)


def write_engine(engine: Path, weights: str, size=(64, 48), **fields) -> Path:
    """A stand-in engine file with a sidecar that passes every check (fields replace its entries)."""
    engine.write_bytes(b"onnx")
    sidecar = {"sidecar_format": "livestyle-engine/1", "format": "onnx", "precision": "fp32",
               "artifact_sha256": hashlib.sha256(b"onnx").hexdigest(), "input": {"size": list(size)},
               "weights": {"sha256": "0" * 64, "path": weights}, "gpu": None, "versions": {},
               "parity": {"passed": True, "max_abs_error": 0.0, "tolerance": 1e-3}, **fields}
    (engine.parent / (engine.name + ".json")).write_text(json.dumps(sidecar))
    return engine


def test_backend_choices_follow_the_backends():
    assert options.BACKEND_CHOICES == ("auto", *NAMES)


def test_scale_over_the_largest_side_is_refused():
    with pytest.raises(LivestyleError, match="--scale 4 of the 3840x2160 video is 15360x8640, over 8192"):
        selection.scaled_size((3840, 2160), 4, "video")


@pytest.mark.parametrize("extra, kind", [
    ({}, "frames"),  # the demo model and runs from before `kind`: whole frames
    ({"preset": "faces"}, "faces"),
    ({"preset": "frames"}, "frames"),
    ({"kind": "faces", "preset": "frames"}, "faces"),  # kind, where the weights say it, wins
    ({"kind": "frames", "preset": "faces"}, "frames"),
])
def test_model_kind_from_the_weights_metadata(tiny, tmp_path, extra, kind):
    path = tmp_path / "game2movie.safetensors"
    save_generator(tiny, path, "game2movie", extra)
    assert selection.ModelChoice(path).kind == kind
    assert selection.ModelChoice(selection.DEMO_MODEL).kind == "frames"


def test_a_kind_of_another_name_is_refused(tiny, tmp_path):
    path = tmp_path / "game2movie.safetensors"
    save_generator(tiny, path, "game2movie", {"kind": "cats"})
    with pytest.raises(LivestyleError, match="field 'kind' is 'cats', not one of 'faces', 'frames'"):
        _ = selection.ModelChoice(path).kind  # reading .kind is what raises


def test_next_model_wraps_around_and_skips_the_same_model(weights, tmp_path):
    other = tmp_path / "other" / "game2movie.safetensors"
    other.parent.mkdir()
    other.write_bytes(weights.read_bytes())
    first, second = selection.ModelChoice(weights), selection.ModelChoice(other)
    assert selection.next_model(first, [first, second]) is second
    assert selection.next_model(second, [first, second]) is first
    assert selection.next_model(first, [first]) is None
    assert selection.next_model(selection.ModelChoice(tmp_path / "gone"), [first, second]) is first


def test_model_switcher_opens_the_next_model_at_the_current_size(weights, tmp_path):
    runs = tmp_path / "runs"
    make_runs(runs, weights, ("older", "newer"))
    start = selection.ModelChoice(runs / "newer" / "game2movie.safetensors")
    switch = selection.ModelSwitcher(start, "torch-cpu", 1, tmp_path / "engines", runs, probe(), print,
                                     current_size=lambda: (32, 24))
    stylizer, label = switch()
    assert label == "older/game2movie.safetensors" and stylizer.size == (32, 24)
    assert switch.choice.weights == runs / "older" / "game2movie.safetensors"
    stylizer.close()


def test_faces_models_are_skipped_and_refused_over_whole_frames(tiny, weights, tmp_path, monkeypatch):
    # `python -m training.fit faces` is the first command a user types; its run must not be run over the
    # whole screen as if it were a frames model.
    monkeypatch.setattr(selection, "DEMO_MODEL", tmp_path / "missing-demo.safetensors")
    runs, engines = tmp_path / "runs", tmp_path / "engines"
    make_runs(runs, weights, ("frames-run",))
    faces = runs / "faces-run" / "game2movie.safetensors"
    faces.parent.mkdir()
    save_generator(tiny, faces, "game2movie", {"preset": "faces"})
    lines = []
    choice = selection.resolve_model(None, engines, runs, probe(), lines.append)
    assert choice.weights.parent.name == "frames-run"
    assert lines == ["skipping faces-run/game2movie.safetensors: a faces model (trained on face crops); the whole "
                     "picture needs a frames model (python -m training.fit frames)"]
    for given in (faces, faces.parent):
        with pytest.raises(LivestyleError, match=r"--model .*faces-run.*: it was trained on face crops .*give a "
                                                 r"frames model \(python -m training.fit frames\)"):
            selection.resolve_model(given, engines, runs, probe())
    (runs / "frames-run" / "game2movie.safetensors").unlink()
    with pytest.raises(LivestyleError, match="no frames run in"):
        selection.resolve_model(None, engines, runs, probe())


def test_a_sidecar_whose_weights_path_names_another_file_is_named(tmp_path):
    """The sidecar says weights.path /somewhere/notes.txt: the message names the sidecar, not the stray file."""
    engines, runs = tmp_path / "engines", tmp_path / "runs"
    engines.mkdir()
    stray = tmp_path / "notes.txt"
    stray.write_text("not weights")
    engine = write_engine(engines / "game2movie-x-64x48-fp32.onnx", str(stray))
    with pytest.raises(LivestyleError, match=r"fp32.onnx.json: its 'weights.path' names .*notes.txt, which is not "
                                             r"the file the engine was built from"):
        selection.resolve_model(engine, engines, runs, probe())
    engine = write_engine(engines / "game2movie-x-64x48-fp32.onnx", "")
    with pytest.raises(LivestyleError, match=r"\.onnx\.json: the sidecar's 'weights.path' does not name the weights"):
        selection.resolve_model(engine, engines, runs, probe())
