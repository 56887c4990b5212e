"""Offline video stylisation (python -m livestyle.video), the stabiliser and the flicker metric.

Videos are written here with PyAV: a blurred-noise texture that moves 3 px right and 1 px down a
frame (so optical flow has something true to find), a static one, variable frame rate, audio. The
stylizer is a real tiny generator (N=8) on torch-cpu, one thread."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import REPO

from livestyle.core.errors import LivestyleError, WorkFailed
from livestyle.model.generator import Generator
from livestyle.model.weights import save_generator
from livestyle.runtime.machine import probe
from livestyle.runtime.stabilizer import Stabilizer
from livestyle.runtime.stylizer import Stylizer
from livestyle.video import job, stylize_video
from livestyle.video import metrics as video_metrics
from livestyle.video.__main__ import main as video_main

SIZE = (128, 72)
H264 = "libx264" in av.codecs_available
HAS_ORT = probe().onnxruntime is not None


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()  # Stylizer(threads=1) sets torch's process-wide thread count
    yield
    torch.set_num_threads(threads)


def texture(seed: int = 0, size=(400, 240)) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 3), None, 0, 255, cv2.NORM_MINMAX)


def moving(count: int, size=SIZE, step=(3, 1), seed=0):
    big = texture(seed)
    return [big[i * step[1]:i * step[1] + size[1], i * step[0]:i * step[0] + size[0]].copy() for i in range(count)]


def write_video(path: Path, frames, fps: int = 10, codec: str = "libx264" if H264 else "mpeg4", times_ms=None,
                audio: bool = False) -> Path:
    """frames (BGR) at `fps`, or at their own times in ms; `audio`: a 440 Hz AAC tone as long as the video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        time_base = Fraction(1, 1000) if times_ms is not None else Fraction(1, fps)
        stream.codec_context.time_base = time_base
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=44100)
            sound.layout = "mono"
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = int(times_ms[index]) if times_ms is not None else index
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            samples = int(44100 * len(frames) / fps)
            for start in range(0, samples, 1024):
                tone = (0.3 * np.sin(np.arange(start, start + 1024) * 2 * np.pi * 440 / 44100)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(tone[None], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 44100, start
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def read_video(path: Path):
    """(BGR frames, their times in seconds, the audio packet count, the video codec)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="bgr24"))
            times.append(frame.time)
        codec = stream.codec_context.name
        read_video.rate = stream.average_rate
    with av.open(str(path)) as container:
        audio = sum(1 for packet in container.demux(*container.streams.audio) if packet.dts is not None) \
            if container.streams.audio else 0
    return frames, times, audio, codec


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return Generator(features=8).eval()


@pytest.fixture(scope="module")
def weights(generator, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "game2movie.safetensors"
    save_generator(generator, path, "game2movie")
    return path


@pytest.fixture(scope="module")
def stylizer(generator):
    return Stylizer(generator, "torch-cpu", size=SIZE, threads=1)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", moving(30), audio=True)


class Flicker:
    """A real stylizer whose every frame gets its own brightness shift and noise: deliberate flicker."""

    def __init__(self, stylizer, amount: float = 12.0, seed: int = 0):
        self.stylizer, self.amount = stylizer, amount
        self.rng = np.random.default_rng(seed)
        self.size, self.name = stylizer.size, "flicker"

    def __call__(self, frame):
        styled = self.stylizer(frame).astype(np.float32)
        styled += self.rng.uniform(-self.amount, self.amount) + self.rng.normal(0, self.amount / 2, styled.shape)
        return np.clip(styled + 0.5, 0, 255).astype(np.uint8)


def cli(*args) -> int:
    return video_main([str(arg) for arg in args] + ["--quiet", "--backend", "torch-cpu", "--threads", "1"])


# ------------------------------------------------------------------------------------------------ output

def test_frames_time_stamps_size_and_audio_are_kept(clip, weights, tmp_path):
    out = tmp_path / "styled.mp4"
    assert cli(clip, out, "--model", weights, "--stats", tmp_path / "stats.json") == 0
    source_frames, source_times, source_audio, _ = read_video(clip)
    source_rate = read_video.rate
    frames, times, audio, codec = read_video(out)
    assert read_video.rate == source_rate == 10
    assert len(frames) == len(source_frames) == 30
    assert times == pytest.approx(source_times, abs=1e-6)
    assert frames[0].shape == source_frames[0].shape
    assert codec == ("h264" if H264 else "mpeg4") or not H264
    assert audio == source_audio > 0  # copied packet for packet
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["frames"] == 30 and stats["inference_size"] == list(SIZE) and stats["backend"] == "torch-cpu"
    assert set(stats["stage_ms"]) == {"decode", "stylize", "motion", "finish", "encode"}
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_a_pyramid_model_runs_at_a_size_the_plain_one_refuses(clip, tmp_path):
    from livestyle.model.generator import make_pyramid
    from livestyle.model.weights import save_generator
    weights = tmp_path / "pyramid.safetensors"
    save_generator(make_pyramid(features=4, levels=2, band_features=4), weights, "game2movie")
    out = tmp_path / "styled.mp4"
    assert cli(clip, out, "--model", weights, "--size", "61x37", "--stats", tmp_path / "stats.json") == 0
    assert json.loads((tmp_path / "stats.json").read_text())["inference_size"] == [61, 37]
    assert len(read_video(out)[0]) == 30


@pytest.mark.skipif(not {"libvpx-vp9", "libopus"} <= av.codecs_available, reason="no VP9/Opus encoder in this PyAV")
def test_audio_the_container_cannot_hold_is_re_encoded(clip, weights, tmp_path, caplog):
    out = tmp_path / "styled.webm"  # WebM takes Opus or Vorbis, not the clip's AAC
    assert cli(clip, out, "--model", weights, "--codec", "vp9") == 0
    assert "audio re-encoded to opus" in caplog.text
    with av.open(str(out)) as container:
        kinds = [(stream.type, stream.codec_context.name) for stream in container.streams]
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].codec_context.sample_rate
    assert kinds == [("video", "vp9"), ("audio", "opus")]
    assert samples / rate == pytest.approx(3.0, abs=0.1)  # as long as the source's 30 frames at 10 fps
    assert len(read_video(out)[0]) == 30


def test_output_pixels_are_the_stylizers(clip, stylizer, tmp_path):
    """Lossless codec: what is written is the stylizer's output for each decoded frame."""
    out = tmp_path / "styled.mkv"
    stylize_video(clip, out, stylizer, codec="ffv1", progress=False)
    source_frames, _, _, _ = read_video(clip)
    frames, _, _, codec = read_video(out)
    assert codec == "ffv1"
    for source, written in zip(source_frames, frames, strict=False):
        np.testing.assert_array_equal(written, stylizer(source))


@pytest.mark.skipif(not H264, reason="this PyAV build has no libx264")
def test_variable_frame_rate_start_offset_and_sizes(weights, tmp_path):
    times = np.cumsum(np.r_[1500, np.random.default_rng(1).integers(20, 200, 24)])
    clip = write_video(tmp_path / "vfr.mkv", moving(25), times_ms=times)
    out = tmp_path / "out.mov"
    assert cli(clip, out, "--model", weights, "--size", "64x40", "--output-size", "96x54") == 0
    frames, written_times, _, _ = read_video(out)
    assert len(frames) == 25 and frames[0].shape == (54, 96, 3)
    assert written_times == pytest.approx(times / 1000, abs=1e-3)  # each frame's own time, offset kept


def test_the_video_command_takes_a_comma(clip, weights, tmp_path):
    """--output-size reads WIDTHxHEIGHT as every size flag does (livestyle.core.sizes; issue 24)."""
    assert cli(clip, tmp_path / "out.mkv", "--model", weights, "--size", "64x40", "--output-size", "96,54",
               "--codec", "ffv1") == 0


def test_side_by_side_is_source_then_stylised(clip, stylizer, tmp_path):
    out = tmp_path / "compare.mkv"
    stats = stylize_video(clip, out, stylizer, compare=True, codec="ffv1", progress=False)
    frames, _, _, _ = read_video(out)
    source_frames, _, _, _ = read_video(clip)
    assert stats["output_size"] == [2 * SIZE[0], SIZE[1]] and frames[0].shape == (SIZE[1], 2 * SIZE[0], 3)
    below_label = slice(30, None)  # the labels sit in the top rows
    left = frames[5][below_label, :SIZE[0]].astype(np.int16)
    right = frames[5][below_label, SIZE[0]:].astype(np.int16)
    np.testing.assert_array_equal(left, source_frames[5][below_label])
    np.testing.assert_array_equal(right, stylizer(source_frames[5])[below_label])


# ------------------------------------------------------------------------------------------------ stabiliser

def test_stabilizer_lowers_the_warping_error_of_a_flickering_stylizer(stylizer, tmp_path):
    clip = write_video(tmp_path / "moving.mkv", moving(20), codec="ffv1")
    plain, steady = tmp_path / "plain.mkv", tmp_path / "steady.mkv"
    stylize_video(clip, plain, Flicker(stylizer, seed=1), codec="ffv1", progress=False)
    stylize_video(clip, steady, Flicker(stylizer, seed=1), stabilizer=Stabilizer(0.6), codec="ffv1", progress=False)
    result = video_metrics.measure(clip, steady, reference=plain, width=SIZE[0])
    errors = result["warping_error"]
    assert result["frames"] == 20 and result["pairs"] == 19
    assert errors["output"] < 0.5 * errors["reference"], errors
    assert errors["source"] < errors["output"]  # the source itself is the floor
    assert 20 < result["psnr_vs_reference_db"] < 60  # closer to the unstabilised frames, not a frozen copy


def test_stabilizer_leaves_a_static_video_unchanged(stylizer, tmp_path):
    still = texture(3)[:SIZE[1], :SIZE[0]].copy()
    clip = write_video(tmp_path / "static.mp4", [still] * 15)
    plain, steady = tmp_path / "plain.mkv", tmp_path / "steady.mkv"
    stylize_video(clip, plain, stylizer, codec="ffv1", progress=False)
    stylize_video(clip, steady, stylizer, stabilizer=Stabilizer(0.8), codec="ffv1", progress=False)
    result = video_metrics.measure(clip, steady, reference=plain, width=SIZE[0])
    assert result["psnr_vs_reference_db"] is None or result["psnr_vs_reference_db"] > 45


def test_stabilizer_keeps_fresh_frames_at_a_cut_and_restarts_on_a_new_size():
    stabilize = Stabilizer(0.9)
    first, cut = texture(0)[:72, :128].copy(), texture(7)[:72, :128].copy()
    styled_first, styled_cut = 255 - first, 255 - cut
    np.testing.assert_array_equal(stabilize(first, styled_first), styled_first)  # nothing to blend with yet
    after_cut = stabilize(cut, styled_cut)
    assert stabilize.reliable_fraction < 0.2
    assert np.abs(after_cut.astype(np.int16) - styled_cut).mean() < 5  # the new scene, not a ghost of the old
    bigger = texture(0)[:80, :160].copy()
    np.testing.assert_array_equal(stabilize(bigger, 255 - bigger), 255 - bigger)
    off = Stabilizer(0.0)
    for image in (first, cut):
        np.testing.assert_array_equal(off(image, 255 - image), 255 - image)


def test_stabilizer_follows_motion_rather_than_smearing():
    """Where the picture moves, the blended history is warped along with it: a moving sharp edge stays sharp."""
    frames = moving(6)
    interior = (slice(8, -8), slice(8, -8))
    unwarped = frames[0].astype(np.float32)
    for image in frames[1:]:
        unwarped = 0.2 * image + 0.8 * unwarped  # the same blend without the flow: a smear
    smear = np.abs(unwarped[interior] - frames[-1][interior]).mean()
    for preset, most in (("medium", 1.0), ("fast", 2.5)):
        stabilize = Stabilizer(0.8, preset=preset)
        for image in frames:
            out = stabilize(image, image)  # stylised = source: the best history is the warped previous frame
        error = np.abs(out[interior].astype(np.float32) - frames[-1][interior]).mean()
        assert error < most and error < smear / 5, (preset, error, smear)
        assert stabilize.reliable_fraction > 0.8


# ------------------------------------------------------------------------------------------------ metric

def test_metric_command_prints_json_and_a_table(clip, capsys):
    assert video_metrics.main([str(clip), str(clip), "--reference", str(clip), "--json", "--width", "96"]) == 0
    result = json.loads(capsys.readouterr().out)
    errors = result["warping_error"]
    assert errors["output"] == pytest.approx(errors["source"]) and result["psnr_vs_reference_db"] is None
    assert result["size"] == [96, 54] and result["flow"] == "farneback"
    assert video_metrics.main([str(clip), str(clip), "--width", "96"]) == 0
    table = capsys.readouterr().out
    assert "source (the floor)" in table and "1.0× the floor" in table


def test_metric_refuses_mismatched_and_side_by_side_videos(clip, stylizer, tmp_path, capsys):
    short = write_video(tmp_path / "short.mp4", moving(12))
    assert video_metrics.main([str(clip), str(short)]) == 2
    error = capsys.readouterr().err
    assert "different frame counts" in error and "12" in error
    compare = tmp_path / "compare.mp4"
    stylize_video(clip, compare, stylizer, compare=True, progress=False)
    assert video_metrics.main([str(clip), str(compare)]) == 2
    assert "side-by-side" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ failures

@pytest.mark.slow
def test_interrupted_run_leaves_no_output(weights, tmp_path):
    clip = write_video(tmp_path / "long.mp4", moving(60) * 10)
    before = digest(clip)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous result")
    # a large inference size keeps the 600 frames busy for many seconds, so the signal lands mid-run
    process = subprocess.Popen([sys.executable, "-m", "livestyle.video", str(clip), str(out), "--model", str(weights),
                                "--backend", "torch-cpu", "--threads", "1", "--overwrite", "--quiet",
                                "--size", "640x360"],
                               cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               # a shell's background job (nohup … &) starts with SIGINT ignored, and Python
                               # then never turns it into KeyboardInterrupt: give the child the default back
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not [p for p in tmp_path.iterdir() if ".partial" in p.name]:
        time.sleep(0.05)
    time.sleep(0.5)  # some frames into the temporary file
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=60)
    assert process.returncode == 130, error
    assert "interrupted" in error
    assert out.read_bytes() == b"the previous result"  # the old output is untouched
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
    assert digest(clip) == before


def test_a_backend_failing_mid_video_says_so_and_leaves_nothing(clip, stylizer, tmp_path):
    class Breaks:
        size, name, engine_file = stylizer.size, "torch-cuda", None

        def __init__(self):
            self.calls = 0

        def __call__(self, frame):
            self.calls += 1
            if self.calls == 4:
                raise RuntimeError("CUDA error: an illegal memory access was encountered")
            return stylizer(frame)

    out = tmp_path / "out.mp4"
    with pytest.raises(LivestyleError, match="frame 4 failed on torch-cuda .*illegal memory access.*torch-cpu"):
        stylize_video(clip, out, Breaks(), stabilizer=Stabilizer(0.5), progress=False)
    assert not out.exists() and not list(tmp_path.iterdir())


class MakesTheOutput:
    """A real stylizer; while the job runs, on its third frame, another program creates OUT."""

    def __init__(self, stylizer, output: Path):
        self.stylizer, self.output, self.calls = stylizer, output, 0
        self.size, self.name = stylizer.size, "torch-cpu"

    def __call__(self, frame):
        self.calls += 1
        if self.calls == 3:
            self.output.write_bytes(b"another program's video")
        return self.stylizer(frame)


def test_an_output_made_by_another_program_during_the_run_is_not_replaced(clip, stylizer, tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(WorkFailed) as raised:
        stylize_video(clip, out, MakesTheOutput(stylizer, out), codec="ffv1", progress=False)
    kept = tmp_path / "out.livestyle-1.mp4"
    assert out.read_bytes() == b"another program's video" and str(kept) in str(raised.value)
    assert len(read_video(kept)[0]) == 30  # our whole result, beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.livestyle-1.mp4", "out.mp4"]
    with_overwrite = stylize_video(clip, out, MakesTheOutput(stylizer, out), codec="ffv1", progress=False,
                                   overwrite=True)
    assert with_overwrite["frames"] == 30 and len(read_video(out)[0]) == 30  # --overwrite: replacing is the point


def test_the_command_says_so_in_one_line_and_exits_1(clip, weights, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.mp4"
    real = job.VideoWriter

    def writer_then_another_program(*args, **kwargs):
        made = real(*args, **kwargs)
        if ".partial" in str(args[0]):  # the real output, not the trial before the work
            out.write_bytes(b"theirs")
        return made

    monkeypatch.setattr(job, "VideoWriter", writer_then_another_program)
    assert cli(clip, out, "--model", weights) == 1
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and "appeared while livestyle was writing it" in error, error
    assert out.read_bytes() == b"theirs" and (tmp_path / "out.livestyle-1.mp4").exists()


def expect_error(capsys, args, *fragments):
    assert cli(*args) == 2
    error = capsys.readouterr().err
    assert error.startswith(("error: ", "python -m livestyle.video: error: ")), error
    assert len(error.strip().splitlines()) == 1, error
    for fragment in fragments:
        assert str(fragment) in error, error


def test_bad_inputs_each_get_one_clear_message(clip, weights, tmp_path, capsys):
    before = digest(clip)
    out = tmp_path / "out.mp4"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(os.urandom(4000))
    expect_error(capsys, [broken, out, "--model", weights], broken, "cannot be read")
    expect_error(capsys, [tmp_path / "missing.mp4", out, "--model", weights], "missing.mp4", "no such file")
    expect_error(capsys, [clip, clip, "--model", weights], clip, "is the input video")
    expect_error(capsys, [clip, out, "--model", weights, "--codec", "nonsense"], "--codec nonsense", "h264")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    expect_error(capsys, [clip, blocker / "out.mp4", "--model", weights], blocker / "out.mp4",
                 "is a file, not a folder")
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"keep me")
    expect_error(capsys, [clip, existing, "--model", weights], existing, "--overwrite")
    assert existing.read_bytes() == b"keep me"
    expect_error(capsys, [clip, out, "--model", weights, "--stabilize", "1.5"], "--stabilize: 1.5", "from 0 to 1")
    expect_error(capsys, [clip, tmp_path / "noextension", "--model", weights], "noextension", ".mp4")
    expect_error(capsys, [clip, tmp_path / "out.xyz", "--model", weights], "out.xyz", ".mp4")
    audio_only = tmp_path / "audio.m4a"
    with av.open(str(audio_only), "w") as container:
        sound = container.add_stream("aac", rate=44100)
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        chunk.sample_rate = 44100
        for packet in [*sound.encode(chunk), *sound.encode()]:
            container.mux(packet)
    expect_error(capsys, [audio_only, out, "--model", weights], audio_only, "no video stream")
    assert digest(clip) == before
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_zero_frame_video(weights, tmp_path, capsys):
    empty = tmp_path / "empty.avi"  # a video stream with a frame size, and no frames in it
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, SIZE).release()
    expect_error(capsys, [empty, tmp_path / "out.mp4", "--model", weights], empty, "no video frames")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime: not installed (pip install -e '.[onnx]')")
def test_default_model_passes_over_an_engine_of_another_shape(clip, weights, tmp_path, monkeypatch, caplog):
    from livestyle.model.loaded import load_model
    from livestyle.runtime.engines.build import build_onnx

    monkeypatch.chdir(tmp_path)  # engines/ and runs/ are looked up from here
    monkeypatch.setenv("LIVESTYLE_CACHE_DIR", str(tmp_path / "cache"))  # auto's timings stay out of ~/.cache
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    run_weights = tmp_path / "runs" / "mine" / "game2movie.safetensors"
    run_weights.write_bytes(weights.read_bytes())
    (tmp_path / "engines").mkdir()
    squat = build_onnx(load_model(run_weights), (64, 64), tmp_path / "engines", probe(), log=lambda _: None)
    assert video_main([str(clip), "out.mp4", "--quiet", "--threads", "1"]) == 0
    error = caplog.text
    caplog.clear()
    assert f"passing over {squat.name}: built for 64x64" in error and "model mine/game2movie.safetensors" in error
    wide = build_onnx(load_model(run_weights), SIZE, tmp_path / "engines", probe(), log=lambda _: None)
    assert video_main([str(clip), "out2.mp4", "--quiet", "--threads", "1"]) == 0
    error = caplog.text
    assert f"model {wide.name}" in error and "passing over" not in error  # the newest engine, and it fits


def test_help_has_examples(capsys):
    assert video_main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "python -m livestyle.video gameplay.mp4" in text and "--stabilize" in text


# ------------------------------------------------------------------------------------------------ live app

def test_the_live_pipeline_applies_the_stabilizer(stylizer):
    from livestyle.live.pipeline import Pipeline

    still = np.ascontiguousarray(np.dstack([texture(2)[:SIZE[1], :SIZE[0]], np.full((SIZE[1], SIZE[0]), 255,
                                                                                     np.uint8)]))

    class Still:
        def grab(self):
            return still

        def close(self):
            pass

    pipeline = Pipeline(Still, Flicker(stylizer, amount=20), fps_cap=200, stabilizer=Stabilizer(1.0))
    shown = []
    pipeline.start()
    deadline = time.time() + 20
    while len(shown) < 5 and time.time() < deadline:
        item = pipeline.take()
        if item is not None:
            shown.append(item.image)
        time.sleep(0.002)
    pipeline.stop()
    assert len(shown) >= 5, pipeline.error
    for image in shown[1:]:  # strength 1 on a still screen: the first result holds, the flicker is gone
        np.testing.assert_array_equal(image, shown[0])


def test_live_app_checks_the_stabilize_strength(capsys):
    from livestyle.live.app import build_parser, check_arguments

    args = build_parser().parse_args(["--stabilize"])
    assert args.stabilize == 0.5
    check_arguments(args)
    for value in ("2", "nan", "-0.1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--stabilize", value])
        assert "argument --stabilize" in capsys.readouterr().err
