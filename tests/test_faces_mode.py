"""Faces mode: FacesStylizer on composited faces (real faces from scikit-image in game pictures), the
app's --faces choices and messages, the HUD and the F key (offscreen Qt)."""
import json

import cv2
import numpy as np
import pytest
import torch

from livestyle.core.errors import LivestyleError
from livestyle.faces.crop import FACE_CROP, FACES_BATCH
from livestyle.faces.tracks import _overlap
from livestyle.live import app
from livestyle.model.generator import Generator
from livestyle.model.weights import save_generator
from livestyle.runtime.facemode import FacesStylizer
from livestyle.runtime.selection import DEMO_FACES_MODEL
from livestyle.runtime.stylizer import Stylizer

pytest.importorskip("skimage.data", reason="scikit-image (a dev dependency) holds the test faces")
from devtools.face_scenes import face_sources, paste_face

CAPTURE = (320, 180)
FACE_BOX = (40, 40, 90, 90)  # the astronaut's face, pasted here


def face_picture() -> np.ndarray:
    """A BGRA game-like picture (sky, ground, a stripe) with the astronaut's face at FACE_BOX."""
    rgb = np.zeros((CAPTURE[1], CAPTURE[0], 3), np.uint8)
    rgb[:] = (70, 110, 170)
    rgb[120:] = (60, 130, 50)
    rgb[:, 250:260] = (200, 180, 40)
    paste_face(rgb, face_sources()[0], *FACE_BOX[:3])
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)


class FaceSource:
    rect = (0, 0, *CAPTURE)

    def grab(self):
        return face_picture()

    def close(self):
        pass


def faces_weights(path, size=32, kind="faces"):
    torch.manual_seed(0)
    generator = Generator(features=8).eval()
    with torch.no_grad():  # a visible change: the film look of a random network
        for parameter in generator.parameters():
            parameter.mul_(3)
    extra = {"kind": kind, "image_size": size, "preset": kind}
    if kind == "faces":
        extra["crop_rule"] = FACE_CROP.to_metadata()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_generator(generator, path, "game2movie", extra)
    return path


pytestmark = pytest.mark.usefixtures("private_cache_and_threads")


def crop_box():
    left, top, side = FACE_CROP.box(*FACE_BOX, *CAPTURE)
    return left, top, side


def test_faces_are_stylised_inside_their_crops_and_nothing_else(tmp_path):
    weights = faces_weights(tmp_path / "faces" / "game2movie.safetensors")
    faces = Stylizer(weights, "torch-cpu", size=(32, 32), batch=FACES_BATCH, threads=1)
    stylizer = FacesStylizer(faces, FACE_CROP, detect_fps=None)
    frame = face_picture()
    shown = stylizer(frame, now=0.0)
    assert shown.shape == (CAPTURE[1], CAPTURE[0], 3) and stylizer.status()["faces_stylised"] == 1
    (box,) = stylizer.tracks.boxes()
    assert _overlap(box, FACE_BOX) > 0.5
    left, top, side = FACE_CROP.box(*box, *CAPTURE)
    difference = np.abs(shown.astype(int) - frame[..., :3].astype(int)).max(axis=2)
    outside = np.ones_like(difference, bool)
    outside[top:top + side, left:left + side] = False
    assert difference[outside].max() <= 2
    assert difference[top + side // 4:top + 3 * side // 4, left + side // 4:left + 3 * side // 4].mean() > 10
    assert np.array_equal(frame, face_picture())  # the capture itself is never written to
    stylizer.enabled = False
    assert np.array_equal(stylizer(frame, now=0.1), frame[..., :3])
    stylizer.close()


def test_no_faces_is_normal_and_small_faces_are_left_alone(tmp_path):
    weights = faces_weights(tmp_path / "faces" / "game2movie.safetensors", size=128)  # smallest face: 64 px
    faces = Stylizer(weights, "torch-cpu", size=(128, 128), batch=FACES_BATCH, threads=1)
    stylizer = FacesStylizer(faces, FACE_CROP, detect_fps=None)
    empty = np.full((CAPTURE[1], CAPTURE[0], 3), 90, np.uint8)
    assert np.array_equal(stylizer(empty, now=0.0), empty) and stylizer.status()["faces_in_view"] == 0
    small = cv2.cvtColor(face_picture(), cv2.COLOR_BGRA2BGR)
    small = cv2.resize(small, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)  # a 54 px face
    small = np.ascontiguousarray(np.pad(small, ((0, 72), (0, 128), (0, 0)), mode="edge"))
    assert np.array_equal(stylizer(small, now=0.1), small)
    assert stylizer.status()["faces_in_view"] == 1 and stylizer.status()["faces_stylised"] == 0
    stylizer.close()


def test_live_detection_thread_finds_the_face_soon(tmp_path):
    import time

    weights = faces_weights(tmp_path / "faces" / "game2movie.safetensors")
    faces = Stylizer(weights, "torch-cpu", size=(32, 32), batch=FACES_BATCH, threads=1)
    stylizer = FacesStylizer(faces, FACE_CROP)  # detection on its own thread, 15 a second at most
    frame = face_picture()
    started = time.perf_counter()
    while stylizer.status()["faces_stylised"] == 0 and time.perf_counter() - started < 5:
        stylizer(frame)
        time.sleep(0.02)
    assert stylizer.status()["faces_stylised"] == 1
    assert stylizer.status()["detector_ms"] is not None
    stylizer.close()


def args_for(*argv):
    return app.build_parser().parse_args(list(argv))


@pytest.mark.slow
def test_app_faces_mode_end_to_end(qapp, tmp_path):
    weights = faces_weights(tmp_path / "runs" / "faces-a" / "game2movie.safetensors")
    stats, dump = tmp_path / "live.json", tmp_path / "dump"
    lines = []
    code = app.run(args_for("--faces", str(weights), "--backend", "torch-cpu", "--exit-after", "2.5", "--stats",
                            str(stats), "--dump-last", str(dump), "--threads", "1"),
                   source_factory=FaceSource, capture_rect=(0, 0, *CAPTURE), runs_dir=tmp_path / "runs",
                   engines_dir=tmp_path / "engines", log=lines.append)
    assert code == 0, lines
    data = json.loads(stats.read_text())
    assert data["model"].startswith("faces: ") and data["faces"]["faces_in_view"] == 1
    assert data["size"] == list(CAPTURE)
    assert any("faces mode" in line for line in lines)
    shown = cv2.imread(str(dump / "shown.png"))
    captured = cv2.imread(str(dump / "captured.png"))
    left, top, side = crop_box()
    difference = np.abs(shown.astype(int) - captured.astype(int)).max(axis=2)
    outside = np.ones_like(difference, bool)
    outside[max(0, top - 8):top + side + 8, max(0, left - 8):left + side + 8] = False  # tracked box: a few px off
    assert difference[outside].max() <= 2
    assert difference[top + side // 4:top + 3 * side // 4, left + side // 4:left + 3 * side // 4].mean() > 10


@pytest.mark.slow
def test_newest_run_faces_starts_faces_mode_and_demo_is_the_default(qapp, tmp_path):
    faces_weights(tmp_path / "runs" / "faces-a" / "game2movie.safetensors")
    lines = []
    code = app.run(args_for("--backend", "torch-cpu", "--exit-after", "1", "--threads", "1"),
                   source_factory=FaceSource, capture_rect=(0, 0, *CAPTURE), runs_dir=tmp_path / "runs",
                   engines_dir=tmp_path / "engines", log=lines.append)
    assert code == 0
    assert any("is a faces model: starting in faces mode" in line for line in lines), lines
    assert DEMO_FACES_MODEL.is_file()
    lines.clear()
    code = app.run(args_for("--faces", "--backend", "torch-cpu", "--exit-after", "1", "--threads", "1"),
                   source_factory=FaceSource, capture_rect=(0, 0, *CAPTURE), runs_dir=tmp_path / "none",
                   engines_dir=tmp_path / "engines", log=lines.append)
    assert code == 0 and any("faces demo model" in line for line in lines), lines


def test_wrong_kinds_get_one_clear_message(qapp, tmp_path):
    frames = faces_weights(tmp_path / "frames" / "game2movie.safetensors", kind="frames")
    faces = faces_weights(tmp_path / "faces" / "game2movie.safetensors")
    with pytest.raises(LivestyleError, match="--faces .*trained on whole frames.*faces model"):
        app.run(args_for("--faces", str(frames)), source_factory=FaceSource, capture_rect=(0, 0, *CAPTURE))
    with pytest.raises(LivestyleError, match="--model .*trained on face crops"):
        app.run(args_for("--faces", str(faces), "--model", str(faces)), source_factory=FaceSource,
                capture_rect=(0, 0, *CAPTURE))
    with pytest.raises(LivestyleError, match="--faces .*no such file"):
        app.run(args_for("--faces", str(tmp_path / "nope")), source_factory=FaceSource, capture_rect=(0, 0, *CAPTURE))


def moving_face_frames(count: int, step: int = 4) -> tuple[list[np.ndarray], list[tuple[int, ...]]]:
    """BGR frames with the astronaut's face moving right `step` px a frame; and its boxes."""
    frames, boxes = [], []
    for index in range(count):
        rgb = np.zeros((CAPTURE[1], CAPTURE[0], 3), np.uint8)
        rgb[:] = (70, 110, 170)
        rgb[120:] = (60, 130, 50)
        boxes.append(paste_face(rgb, face_sources()[0], 30 + step * index, 40, 90))
        frames.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return frames, boxes


@pytest.mark.slow
def test_video_faces_mode_lossless(tmp_path):
    from test_video import cli, read_video, write_video

    weights = faces_weights(tmp_path / "faces" / "game2movie.safetensors")
    frames, boxes = moving_face_frames(20)
    clip = write_video(tmp_path / "faces.mp4", frames, audio=True)
    out = tmp_path / "faces.mkv"
    assert cli(clip, out, "--faces", weights, "--codec", "ffv1", "--stats", tmp_path / "stats.json") == 0
    source, source_times, source_audio, _ = read_video(clip)
    written, times, audio, codec = read_video(out)
    assert codec == "ffv1" and len(written) == len(source) == 20
    plain = tmp_path / "plain.mkv"  # time stamps and audio as the command keeps them without faces mode
    frames_model = faces_weights(tmp_path / "frames" / "game2movie.safetensors", kind="frames")
    assert cli(clip, plain, "--model", frames_model, "--codec", "ffv1") == 0
    _, plain_times, plain_audio, _ = read_video(plain)
    assert times == pytest.approx(plain_times, abs=1e-6) and audio == plain_audio == source_audio > 0
    assert np.diff(times) == pytest.approx(np.diff(source_times), abs=1e-6)
    for before, after, box in zip(source, written, boxes, strict=False):
        left, top, side = FACE_CROP.box(*box, *CAPTURE)
        difference = np.abs(after.astype(int) - before.astype(int)).max(axis=2)
        outside = np.ones_like(difference, bool)
        outside[max(0, top - 12):top + side + 12, max(0, left - 12):left + side + 12] = False
        assert difference[outside].max() <= 2
        assert difference[top + side // 4:top + 3 * side // 4, left + side // 4:left + 3 * side // 4].mean() > 10
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["model"] is None and stats["faces"]["frames_with_faces_stylised"] == 20
    steady = tmp_path / "steady.mkv"  # the stabiliser works on the composited picture
    assert cli(clip, steady, "--faces", weights, "--codec", "ffv1", "--stabilize", "0.5") == 0
    steadied, steady_times, _, _ = read_video(steady)
    assert len(steadied) == 20 and steady_times == pytest.approx(times, abs=1e-6)
    assert not all(np.array_equal(a, b) for a, b in zip(steadied, written, strict=False))


def test_m_key_cycles_faces_models_only(tmp_path):
    from livestyle.runtime.machine import probe
    from livestyle.runtime.selection import ModelSwitcher, model_candidates, resolve_faces_model

    runs = tmp_path / "runs"
    faces_weights(runs / "faces-old" / "game2movie.safetensors")
    faces_weights(runs / "frames-mid" / "game2movie.safetensors", kind="frames")
    faces_weights(runs / "faces-new" / "game2movie.safetensors", size=48)
    import os
    for age, name in enumerate(("faces-new", "frames-mid", "faces-old")):
        os.utime(runs / name / "game2movie.safetensors", (1e9 - age * 100, 1e9 - age * 100))
    machine = probe()
    labels = [c.label for c in model_candidates(tmp_path / "engines", runs, machine, kind="faces")]
    assert labels == ["faces-new/game2movie.safetensors", "faces-old/game2movie.safetensors", "faces demo model"]
    first = resolve_faces_model(None, tmp_path / "engines", runs, machine)
    faces = Stylizer(first.weights, "torch-cpu", size=(48, 48), batch=FACES_BATCH, threads=1)
    running = FacesStylizer(faces, FACE_CROP, detect_fps=None)
    switcher = ModelSwitcher(first, "torch-cpu", 1, tmp_path / "engines", runs, machine, lambda m: None,
                             current_size=lambda: running.size, faces_mode=lambda: running)
    new, label = switcher()
    assert label == "faces: faces-old/game2movie.safetensors" and isinstance(new, FacesStylizer)
    assert new.faces.size == (32, 32) and new.faces.backend.batch == FACES_BATCH
    running.close()
    new.close()


def test_with_change_keeps_the_detail_and_adds_the_look():
    from livestyle.runtime.facemode import with_change

    rng = np.random.default_rng(0)
    crop = rng.integers(40, 200, (180, 180, 3), dtype=np.uint8)  # fine detail a 32 px model cannot hold
    before = cv2.resize(crop, (32, 32), interpolation=cv2.INTER_AREA)
    assert np.array_equal(with_change(crop, before, before, (180, 180)), crop)  # no change: the crop itself
    warmer = np.clip(before.astype(int) + (-10, 0, 25), 0, 255).astype(np.uint8)
    got = with_change(crop, before, warmer, (180, 180)).astype(int) - crop
    assert np.array_equal(got[..., 0], np.full((180, 180), -10))
    assert np.array_equal(got[..., 2], np.full((180, 180), 25))
    assert with_change(crop, before, before, (90, 90)).shape == (90, 90, 3)  # shown smaller than captured


def test_f_key_and_hud(qapp, tmp_path):
    from livestyle.live.pipeline import Pipeline
    from livestyle.live.window import LiveWindow

    weights = faces_weights(tmp_path / "faces" / "game2movie.safetensors")
    faces = Stylizer(weights, "torch-cpu", size=(32, 32), batch=FACES_BATCH, threads=1)
    stylizer = FacesStylizer(faces, FACE_CROP, detect_fps=None, frame_size=CAPTURE)
    stylizer(face_picture(), now=0.0)
    window = LiveWindow(Pipeline(FaceSource, stylizer), model_label="faces: test", global_hotkeys=False)
    assert any(line.startswith("faces 1 in view, 1 stylised") for line in window.hud_lines())
    window.act("faces")
    assert stylizer.enabled is False
    window._hud_updated = 0.0
    assert any("faces OFF (F)" in line for line in window.hud_lines())
    window.act("faces")
    assert stylizer.enabled is True
    window.close()
    stylizer.close()
