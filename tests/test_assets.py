"""Issue 26: the files livestyle ships (livestyle/assets) are checked by sha256 before use; a damaged or foreign
face detector or demo model is one line saying to reinstall, from the API and from the commands."""
from __future__ import annotations

import hashlib
import shutil

import pytest
import torch
from _clips import scrolling_frames, write_clip

from livestyle.core import ASSETS, assets
from livestyle.core.errors import LivestyleError


def test_every_shipped_file_matches_its_sum():
    sums = assets.expected_sums()
    assert {"blazeface-back.onnx", "demo_game2movie.safetensors", "demo_faces_game2movie.safetensors"} <= set(sums)
    for name, digest in sums.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, f"{name}: rerun its script"


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A copy of livestyle/assets that the runtime reads instead of the real one."""
    from livestyle.faces import detector
    from livestyle.runtime import selection

    folder = tmp_path / "assets"
    shutil.copytree(ASSETS, folder)
    monkeypatch.setattr(assets, "ASSETS", folder)
    monkeypatch.setattr(assets, "SUMS", folder / "SHA256SUMS")
    monkeypatch.setattr(detector, "ASSETS", folder)
    monkeypatch.setattr(selection, "DEMO_MODEL", folder / "demo_game2movie.safetensors")
    monkeypatch.setattr(selection, "DEMO_FACES_MODEL", folder / "demo_faces_game2movie.safetensors")
    return folder


def foreign_onnx(path):
    """A valid ONNX file of another network: what a well-meant swap of the detector looks like."""
    torch.onnx.export(torch.nn.Conv2d(3, 4, 3), (torch.zeros(1, 3, 16, 16),), str(path), dynamo=False)


@pytest.mark.parametrize("damage", ["truncated", "foreign", "missing"])
def test_a_damaged_or_foreign_detector_says_reinstall(shipped, damage):
    from livestyle.faces.detector import FaceDetector

    detector = shipped / "blazeface-back.onnx"
    if damage == "truncated":
        detector.write_bytes(detector.read_bytes()[:1000])
    elif damage == "foreign":
        foreign_onnx(detector)
    else:
        detector.unlink()
    with pytest.raises(LivestyleError, match="face detector .*blazeface-back.onnx.*reinstall livestyle"):
        FaceDetector()


def test_the_video_command_with_a_damaged_detector_is_one_line(shipped, tmp_path, capsys, tiny_weights,
                                                              private_cache_and_threads):
    from livestyle.video.__main__ import main as video_main

    (shipped / "blazeface-back.onnx").write_bytes(b"\0" * 4096)
    clip = tmp_path / "clip.mp4"
    write_clip(clip, scrolling_frames(6, seed=0))
    out = tmp_path / "out.mp4"
    code = video_main([str(clip), str(out), "--model", str(tiny_weights), "--faces", "--backend", "torch-cpu",
                       "--quiet", "--threads", "1"])
    error = capsys.readouterr().err
    assert code == 2 and len(error.strip().splitlines()) == 1, error
    assert "face detector" in error and "reinstall livestyle" in error and not out.exists()


def test_a_damaged_demo_model_says_reinstall(shipped):
    from livestyle.runtime.selection import ModelChoice

    demo = shipped / "demo_game2movie.safetensors"
    demo.write_bytes(demo.read_bytes()[:-8] + b"\1" * 8)
    with pytest.raises(LivestyleError, match="demo model .* damaged or was replaced.*reinstall livestyle"):
        ModelChoice(demo).check_bundled()
