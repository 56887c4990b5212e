"""The three types at the runtime's boundaries (issue 24): RuntimeOptions (declared once, with the
flags both commands take), the FrameStylizer protocol every stylizer keeps, and WeightsInfo (what a
weights file says, read once); and the one builder both commands use."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields

import numpy as np
import pytest
from test_faces_mode import CAPTURE, faces_weights, moving_face_frames

from livestyle.core.errors import LivestyleError
from livestyle.faces.crop import FACE_CROP
from livestyle.live import app
from livestyle.model.generator import Generator
from livestyle.model.weights import WeightsInfo, read_weights_info, save_generator
from livestyle.runtime import options as runtime_options
from livestyle.runtime.facemode import FacesStylizer
from livestyle.runtime.options import RuntimeOptions, default_threads, option
from livestyle.runtime.protocol import FrameStylizer
from livestyle.runtime.stylizer import Stylizer
from livestyle.video import __main__ as video

PROTOCOL = [name for name in dir(FrameStylizer) if not name.startswith("_")] + ["__call__"]


def flags(parser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_runtime_option_is_a_flag_of_both_commands():
    declared = {spec.metadata["flag"] for spec in fields(RuntimeOptions) if spec.metadata["flag"]}
    assert {"--model", "--backend", "--faces", "--threads"} <= declared
    assert declared <= flags(app.build_parser()) and declared <= flags(video.build_parser())


def test_a_new_option_reaches_both_commands_from_its_declaration(monkeypatch):
    """A field declared in RuntimeOptions (here in a subclass standing in for it) is a flag of both commands."""
    @dataclass
    class WithMore(RuntimeOptions):
        extra_thing: int = option(3, "--extra-thing", {"live": "live words", "video": "video words"}, type=int)

    monkeypatch.setattr(app, "RuntimeOptions", WithMore)
    monkeypatch.setattr(video, "RuntimeOptions", WithMore)
    for command in runtime_options.COMMANDS:
        parser = app.build_parser() if command == "live" else video.build_parser()
        base = ["--extra-thing", "7"] if command == "live" else ["in.mp4", "out.mp4", "--extra-thing", "7"]
        parsed = WithMore.from_args(parser.parse_args([*base, "--threads", "2"]))
        assert parsed.extra_thing == 7 and parsed.threads == 2 and parsed.backend == "auto"
        assert f"{command} words" in parser.format_help()


def test_options_carry_folders_threads_and_what_backends_are_told(tmp_path):
    parsed = RuntimeOptions.from_args(app.build_parser().parse_args(["--backend", "torch-cpu"]),
                                      engines_dir=tmp_path / "e", runs_dir=tmp_path / "r")
    assert (parsed.engines_dir, parsed.runs_dir, parsed.faces_path) == (tmp_path / "e", tmp_path / "r", None)
    # Which default wins where the two commands differed: the live app leaves half the cores to the
    # game, the video command takes them all (each declared once, in runtime.options).
    cores = os.cpu_count() or 1
    assert default_threads("live") == max(1, cores // 2) and default_threads("video") == cores
    assert parsed.for_command("live").threads == default_threads("live")
    told = parsed.for_backends()
    assert told["threads"] is None and told["engines_dir"] == tmp_path / "e" and "backend" not in told
    with pytest.raises(ValueError, match="unknown command"):
        RuntimeOptions.add_arguments(app.build_parser(), "batch", "model")


def test_the_stylizer_takes_its_backend_and_threads_from_options():
    stylizer = Stylizer(Generator(features=4), size=(32, 32), options=RuntimeOptions(backend="torch-cpu", threads=1))
    assert stylizer.name == "torch-cpu" and stylizer.backend.threads == 1


def test_both_stylizers_keep_the_protocol(tmp_path):
    plain = Stylizer(Generator(features=4), "torch-cpu", size=(32, 32), threads=1)
    faces = FacesStylizer(Stylizer(Generator(features=4), "torch-cpu", size=(32, 32), threads=1), FACE_CROP,
                          detect_fps=None)
    for stylizer in (plain, faces):
        missing = [name for name in PROTOCOL if not hasattr(stylizer, name)]
        assert not missing, f"{type(stylizer).__name__} lacks {missing}"
    assert plain.status() is None and plain.faces_on is None and faces.faces_on is True
    with pytest.raises(LivestyleError, match="not in faces mode"):
        plain.faces_on = False
    faces.faces_on = False
    assert faces.enabled is False and faces.status()["faces_on"] is False
    fallback = plain.on_cpu(1, lambda line: None)
    assert fallback.name == "torch-cpu" and fallback.size == plain.size
    frame = np.zeros((20, 30, 3), np.uint8)
    assert fallback(frame).shape == plain(frame).shape == (32, 32, 3)
    plain.stop()
    faces.stop()


def test_weights_info_is_read_once_from_the_header(tmp_path):
    path = tmp_path / "game2movie.safetensors"
    save_generator(Generator(features=4), path, "movie2game", {"kind": "faces", "image_size": 48})
    info = read_weights_info(path)
    assert isinstance(info, WeightsInfo)
    assert (info.direction, info.kind, info.size_multiple, info.image_size, info.faces_side) == (
        "movie2game", "faces", 8, 48, 48)
    assert info.architecture["class"] == "Generator" and info.architecture["features"] == 4
    assert len(info.sha256) == 64 and json.loads(info.metadata["architecture"])["features"] == 4


def test_the_video_command_starts_faces_mode_like_the_app(tmp_path, monkeypatch):
    """The one builder decides for both: with no model flag and a faces model as the newest run, the
    video command runs in faces mode as the live app does (before issue 24 it took a frames model)."""
    from test_video import cli, write_video

    frames, _ = moving_face_frames(6)
    clip = write_video(tmp_path / "faces.mp4", frames)
    monkeypatch.chdir(tmp_path)
    faces_weights(tmp_path / "runs" / "faces-a" / "game2movie.safetensors")
    assert cli(clip, tmp_path / "out.mkv", "--codec", "ffv1", "--threads", "1", "--stats", tmp_path / "s.json") == 0
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["model"] is None and stats["faces_model"].endswith("faces-a/game2movie.safetensors")
    assert stats["inference_size"] == list(CAPTURE)
