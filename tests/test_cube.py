"""`python scripts/build_engine.py --format cube` (issue 25, point 7): a colour-look model as a .cube 3D LUT
and ReShade's LUT strip, checked against a real consumer (ffmpeg's lut3d filter); its refusals; and the
engine finder never taking these files for engines."""
from __future__ import annotations

import json
import shutil
import subprocess

import cv2
import numpy as np
import pytest
import torch
from _matrix import assert_refused, assert_unchanged, call, snapshot
from conftest import load_build_engine

from livestyle.model.generator import Generator
from livestyle.model.look import random_look
from livestyle.model.weights import save_generator
from livestyle.runtime.engines.sidecars import find_artifacts
from livestyle.runtime.machine import probe
from livestyle.runtime.selection import usable_engines

build_engine = load_build_engine()


@pytest.fixture
def look_weights(tmp_path):
    path = tmp_path / "look" / "game2movie.safetensors"
    path.parent.mkdir()
    save_generator(random_look(5, strength=0.5), path, "game2movie")
    return path


def built(out):
    (cube,) = out.glob("*.cube")
    return cube, cube.with_suffix(".png"), cube.with_name(cube.name + ".json")


def test_a_look_becomes_a_cube_a_reshade_strip_and_a_sidecar(look_weights, tmp_path, capsys):
    out = tmp_path / "engines"
    code, err = call(build_engine, ["--weights", look_weights, "--format", "cube", "--out", out], capsys)
    assert code == 0, err
    cube, strip, sidecar = built(out)
    lines = cube.read_text().splitlines()
    assert lines[1:4] == ["LUT_3D_SIZE 65", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    values = np.loadtxt(lines[4:])
    assert values.shape == (65 ** 3, 3) and values.min() >= 0 and values.max() <= 1
    picture = cv2.imread(str(strip))
    assert picture.shape == (32, 1024, 3)
    meta = json.loads(sidecar.read_text())
    assert meta["format"] == "cube" and meta["lut_size"] == 65 and meta["spatial"] == {}
    assert meta["architecture"]["class"] == "ColourLook"
    # The strip at lattice points: tile = blue, x = red, y = green (ReShade's LUT.fx layout).
    look = random_look(5, strength=0.5)
    for r, g, b in ((0, 0, 0), (31, 0, 0), (0, 31, 0), (0, 0, 31), (10, 20, 30), (31, 31, 31)):
        with torch.no_grad():
            expected = (look(torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1) / 31 * 2 - 1) + 1) / 2
        got = picture[g, b * 32 + r, ::-1] / 255
        assert np.abs(got - expected.view(3).numpy()).max() <= 1 / 255 + 1e-6
    # Not an engine: the finder passes over all three files.
    assert find_artifacts(out, "onnx") == [] and usable_engines(out, probe()) == []


@pytest.mark.parametrize("flag, value", [("--size", "64x64"), ("--batch", "2"), ("--precision", "fp32"),
                                         ("--parity-inputs", "2")])
def test_flags_that_do_not_apply_are_refused(flag, value, look_weights, tmp_path, capsys):
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", look_weights, "--format", "cube", "--out", tmp_path / "e", flag,
                                    value], capsys)
    assert_refused(code, err, flag, "does not apply to --format cube")
    assert_unchanged(before, snapshot(tmp_path))


def test_a_model_without_a_look_is_refused(tmp_path, capsys):
    weights = tmp_path / "game2movie.safetensors"
    save_generator(Generator(features=4), weights, "game2movie")
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", weights, "--format", "cube", "--out", tmp_path / "e"], capsys)
    assert_refused(code, err, "has no colour look")
    assert_unchanged(before, snapshot(tmp_path))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg (the lut3d filter) is not installed: "
                    "apt-get install ffmpeg")
def test_ffmpeg_applies_our_cube_as_our_colour_stage(look_weights, tmp_path, capsys):
    """A real consumer: ffmpeg's lut3d filter on a real-looking frame against the look run by torch
    (mean ≤ 1, max ≤ 4 levels of 255; measured: 0.44 and 2 for this moderate look)."""
    assert call(build_engine, ["--weights", look_weights, "--format", "cube", "--out", tmp_path / "e"], capsys)[0] == 0
    cube, _, _ = built(tmp_path / "e")
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(120, 70, (72, 128, 3)), 0, 255).astype(np.uint8)
    frame[:, :64] = np.linspace(0, 255, 64).astype(np.uint8)[None, :, None]  # smooth ramps as well as noise
    source, result = tmp_path / "in.png", tmp_path / "out.png"
    cv2.imwrite(str(source), frame)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vf", f"format=rgb24,lut3d=file={cube}",
                    "-pix_fmt", "rgb24", str(result)], check=True, timeout=60)
    theirs = cv2.imread(str(result)).astype(int)
    rgb = torch.from_numpy(frame[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ours = (random_look(5, strength=0.5)(rgb * 2 - 1) + 1) / 2
    ours = np.rint(ours[0].permute(1, 2, 0).numpy()[..., ::-1] * 255).astype(int)
    difference = np.abs(theirs - ours)
    assert difference.mean() <= 1 and difference.max() <= 4, (difference.mean(), difference.max())
