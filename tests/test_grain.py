"""Film grain (issue 25): drawn for the display only — new every frame, stronger in the shadows, off in
livestyle.Stylizer unless asked (so never in a score), on by default in the live app and the video
command when the model has grain, --no-grain, and the G key."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import torch

from livestyle.model.film import FilmLook
from livestyle.model.weights import save_generator
from livestyle.runtime.grain import FilmGrain, model_grain
from livestyle.runtime.stylizer import Stylizer


def grainy_look(amount: float = 0.04) -> FilmLook:
    film = FilmLook()
    film.grain.fill_(amount)
    with torch.no_grad():
        film.colour.offset_change.fill_(0.2)  # and a visible grade
    return film.eval()


@pytest.fixture(scope="module")
def grainy_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("grain") / "look" / "game2movie.safetensors"
    path.parent.mkdir()
    save_generator(grainy_look(), path, "game2movie")
    return path


def test_grain_is_new_every_frame_stronger_in_the_shadows_and_keeps_the_picture():
    grain = FilmGrain(0.04, seed=1)
    for height, width in ((72, 128), (301, 517), (720, 1280)):  # smaller and larger than a tile, odd sizes
        dark, light = np.full((height, width, 3), 40, np.uint8), np.full((height, width, 3), 215, np.uint8)
        first, second = grain(dark).astype(float), grain(dark).astype(float)
        assert first.shape == (height, width, 3) and not np.array_equal(first, second)
        assert abs(first.mean() - 40) < 0.6  # grain, not a brightness change
        expected = 0.04 * 255 * (1 - 0.5 * 40 / 255)
        assert 0.8 * expected < first.std() < 1.2 * expected
        assert grain(light).astype(float).std() < 0.8 * first.std()
        assert np.array_equal(first[..., 0], first[..., 2])  # monochrome
    grain.on = False
    assert grain(dark) is dark
    assert FilmGrain(0.0)(dark) is dark


def test_only_a_film_look_with_grain_has_grain(grainy_weights):
    from livestyle.model.generator import Generator
    from livestyle.model.loaded import load_model

    assert model_grain(load_model(grainy_weights)) == pytest.approx(0.04)
    assert model_grain(load_model(FilmLook())) == 0.0 and model_grain(load_model(Generator(8))) == 0.0
    assert Stylizer(FilmLook(), "torch-cpu", size=(64, 36), threads=1).film_grain() is None


def test_stylizer_draws_no_grain_unless_asked(grainy_weights):
    """What evaluate, the study and library users get by default: the same picture for the same frame."""
    frame = np.full((36, 64, 3), 90, np.uint8)
    plain = Stylizer(grainy_weights, "torch-cpu", size=(64, 36), threads=1)
    assert np.array_equal(plain(frame), plain(frame)) and plain.grain is None
    asked = Stylizer(grainy_weights, "torch-cpu", size=(64, 36), output_size=(128, 72), threads=1, grain=True)
    first, second = asked(frame), asked(frame)
    assert first.shape == (72, 128, 3) and not np.array_equal(first, second)
    assert abs(first.astype(float).mean() - plain(frame).astype(float).mean()) < 1.0


def test_the_live_pipeline_draws_grain_after_the_stabiliser_and_switches_it(grainy_weights):
    from livestyle.live.pipeline import Pipeline
    from livestyle.runtime.stabilizer import Stabilizer

    still = np.full((36, 64, 4), 90, np.uint8)

    class Still:
        def grab(self):
            return still

        def close(self):
            pass

    stylizer = Stylizer(grainy_weights, "torch-cpu", size=(64, 36), threads=1)

    def shown(pipeline: Pipeline, count: int = 4) -> list[np.ndarray]:
        pictures, deadline = [], time.time() + 20
        pipeline.start()
        while len(pictures) < count and time.time() < deadline:
            item = pipeline.take()
            if item is not None:
                pictures.append(item.image)
            time.sleep(0.002)
        pipeline.stop()
        assert len(pictures) >= count, pipeline.error
        return pictures

    # Stabiliser at full strength on a still screen holds the first picture; the grain still changes.
    with_grain = shown(Pipeline(Still, stylizer, fps_cap=200, stabilizer=Stabilizer(1.0), grain=True))
    assert not np.array_equal(with_grain[1], with_grain[2])
    off = Pipeline(Still, stylizer, fps_cap=200, stabilizer=Stabilizer(1.0), grain=True)
    off.grain_on = False
    steady = shown(off)
    assert all(np.array_equal(picture, steady[0]) for picture in steady[1:])
    without = shown(Pipeline(Still, stylizer, fps_cap=200, grain=False))
    assert np.array_equal(without[1], without[2])


@pytest.mark.slow
def test_video_draws_grain_by_default_and_not_with_no_grain(grainy_weights, tmp_path):
    import av

    from livestyle.video.__main__ import main as video_main

    source = tmp_path / "flat.mp4"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.height, stream.width, stream.pix_fmt = 72, 128, "yuv420p"
        for _ in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((72, 128, 3), 90, np.uint8), format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())

    def spread(out: str, *flags: str) -> float:
        assert video_main([str(source), str(tmp_path / out), "--model", str(grainy_weights), "--quiet", "--backend",
                           "torch-cpu", "--threads", "1", "--crf", "0", *flags]) == 0
        with av.open(str(tmp_path / out)) as container:
            frames = [f.to_ndarray(format="bgr24").astype(float) for f in container.decode(video=0)]
        return float(np.mean([f[8:-8, 8:-8].std() for f in frames]))

    assert spread("grain.mp4") > 3 * max(spread("clean.mp4", "--no-grain"), 0.5)


def test_the_g_key_switches_the_grain(qapp, grainy_weights):
    from PySide6.QtCore import Qt
    from test_app import MovingSource, press, pump, settings

    from livestyle.live.pipeline import Pipeline
    from livestyle.live.window import LiveWindow

    stylizer = Stylizer(grainy_weights, "torch-cpu", size=(64, 48), threads=1)
    pipeline = Pipeline(MovingSource, stylizer, fps_cap=30, grain=True)
    window = LiveWindow(pipeline, mode="mirror", capture_rect=(2000, 0, 128, 96), model_label="look",
                        settings=settings(), global_hotkeys=False, log=lambda message: None)
    window.show()
    pipeline.start()
    try:
        assert pump(qapp, lambda: pipeline.stats.shown >= 1)
        assert pipeline.grain is not None and pipeline.grain_on
        press(qapp, window, Qt.Key.Key_G)
        assert not pipeline.grain_on
        press(qapp, window, Qt.Key.Key_G)
        assert pipeline.grain_on
    finally:
        pipeline.stop()
        window.close()


def test_faces_mode_draws_grain_only_inside_the_pasted_crops(tmp_path):
    """Faces mode over the game as captured: outside the crops the picture stays as captured (within 2
    levels), inside them the faces model's grain (the pipeline draws it after the stabiliser)."""
    from test_faces_mode import face_picture

    from livestyle.faces.crop import FACE_CROP, FACES_BATCH
    from livestyle.runtime.facemode import FacesStylizer

    path = tmp_path / "faces" / "game2movie.safetensors"
    path.parent.mkdir()
    save_generator(grainy_look(), path, "game2movie", {"kind": "faces", "image_size": 32, "preset": "faces",
                                                       "crop_rule": FACE_CROP.to_metadata()})
    faces = FacesStylizer(Stylizer(path, "torch-cpu", size=(32, 32), batch=FACES_BATCH, threads=1), FACE_CROP,
                          detect_fps=None)
    frame = face_picture()
    picture = faces(frame, now=0.0)
    grain = faces.film_grain()
    assert grain is not None and faces.stylised == 1
    first, second = grain(picture, grain.where()), grain(picture, grain.where())
    ((left, top, width, height, _),), _ = faces.pasted()
    outside = np.ones(picture.shape[:2], bool)
    outside[top:top + height, left:left + width] = False
    assert np.abs(first[outside].astype(int) - frame[..., :3][outside].astype(int)).max() <= 2
    inside = (slice(top + height // 4, top + 3 * height // 4), slice(left + width // 4, left + 3 * width // 4))
    assert not np.array_equal(first[inside], second[inside])
    shown = cv2.resize(picture, (picture.shape[1] * 2, picture.shape[0] * 2))  # the video job resizes first
    assert grain(shown, grain.where()).shape == shown.shape


def test_a_faces_look_keeps_soft_focus_colour_and_grain_only(tmp_path, monkeypatch):
    from conftest import write_random_dataset

    from livestyle.model.weights import load_weights
    from training import fit

    monkeypatch.chdir(tmp_path)
    write_random_dataset(tmp_path / "d")
    assert fit.main(["faces", "--data", "d", "--architecture", "look", "--look-stages", "0+1", "--epochs", "1",
                     "--image-size", "32", "--d-features", "4", "--batch-size", "4", "--lr-g", "0.05",
                     "--no-eval", "--run-dir", "run"]) == 0
    look = load_weights(tmp_path / "run" / "game2movie.safetensors")[0]
    assert look.vignette_strength().item() == 0.0 and torch.all(look.tint() == 0)
    assert look.soft_amount().item() != 0.0  # soft focus did train
