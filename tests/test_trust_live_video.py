"""Nothing lost, nothing trusted — the live app (`python -m livestyle`) and the video commands
(`python -m livestyle.video`, `python -m livestyle.video.metrics`), each fed bad input.

Every refusal is one error line (no traceback), a non-zero exit code, and no change on disk outside
the command's output; outputs are checked before the work (a session's numbers are not lost at
exit, a video's minutes of encoding are not spent on a folder that cannot take the file); every
write goes through a private temporary file, so links planted under the names a writer once used
are never written through; a video that ends before its container says it does is not taken for the
whole video."""
import functools
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from _matrix import EROFS, assert_refused, assert_unchanged, call, os_error, snapshot

from devtools.xvfb import SKIP_REASON, have_xvfb, start_xvfb, wait_for_window, x_env
from livestyle.live import app
from livestyle.runtime import selection
from livestyle.runtime.machine import probe
from livestyle.video import metrics
from livestyle.video.__main__ import main as video_main

SIZE = (128, 72)
FRAMES = 30
H264 = "libx264" in av.codecs_available
needs_ort = pytest.mark.skipif(probe().onnxruntime is None,
                               reason="onnxruntime: not installed (pip install -e '.[onnx]')")


@pytest.fixture(autouse=True)
def private_cache_and_threads(tmp_path, monkeypatch):
    """Backend timings cached per test; torch's process-wide thread count (the commands set it) undone."""
    monkeypatch.setenv("LIVESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def weights(tiny_weights) -> Path:
    return tiny_weights


def frames(count: int) -> list[np.ndarray]:
    """A blurred-noise texture moving 3 px right a frame: every frame differs, and compresses poorly."""
    import cv2

    noise = np.random.default_rng(0).integers(0, 256, (SIZE[1], SIZE[0] + 3 * count, 3), dtype=np.uint8)
    texture = cv2.GaussianBlur(noise, (0, 0), 1.5)
    return [texture[:, 3 * i:3 * i + SIZE[0]].copy() for i in range(count)]


def write_clip(path: Path, count: int = FRAMES, codec: str = "ffv1", options: dict | None = None) -> Path:
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for index, image in enumerate(frames(count)):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def frame_count(path: Path) -> int:
    """How many frames FFmpeg decodes before the end of the file or its first decoding error."""
    count = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                count += 1
        except av.FFmpegError:
            pass
    return count


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mkv")


def video(*argv) -> list:
    """The video command's arguments, with the small, fast settings every test here uses."""
    return [*argv, "--quiet", "--backend", "torch-cpu", "--threads", "1", "--size", "64x40"]


# ------------------------------------------------------------------------------------------ live app: flags

LIVE_REFUSALS = {
    "size beyond any screen": (["--size", "65536x65536"], ["--size", "at most 8192"]),
    "NaN fps cap": (["--fps-cap", "nan"], ["--fps-cap", "finite"]),
    "NaN stabiliser strength": (["--stabilize", "nan"], ["--stabilize", "finite"]),
    "infinite scale": (["--scale", "inf"], ["--scale", "finite"]),
    "exit-after past Qt's timer": (["--exit-after", "1e12"], ["--exit-after", "out of range"]),
    "absurd thread count": (["--threads", "100000"], ["--threads", "out of range"]),
}


@pytest.mark.parametrize("argv, fragments", LIVE_REFUSALS.values(), ids=LIVE_REFUSALS.keys())
def test_live_app_refuses_bad_numbers(argv, fragments, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    code, err = call(app.main, argv, capsys)
    assert_refused(code, err, *fragments)
    assert_unchanged(before, snapshot(tmp_path))


# ------------------------------------------------------------------------------------------ live app: outputs

def test_live_stats_in_a_read_only_folder_is_refused_before_the_session(small_disk, capsys):
    disk = small_disk(64, readonly=True)
    before = snapshot(disk)
    code, err = call(app.main, ["--stats", disk / "live.json"], capsys)
    assert_refused(code, err, "--stats", str(disk / "live.json"), "read-only")
    assert_unchanged(before, snapshot(disk))


def test_live_stats_where_the_disk_refuses_new_files(tmp_path, monkeypatch, capsys):
    """The same without a mount (CI as root cannot chmod a folder read-only): the probe's mkstemp fails."""
    import tempfile

    def read_only(*args, **kwargs):
        raise os_error(EROFS)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    before = snapshot(tmp_path)
    code, err = call(app.main, ["--stats", tmp_path / "live.json"], capsys)
    assert_refused(code, err, "--stats", "read-only")
    assert_unchanged(before, snapshot(tmp_path))


def test_live_stats_whose_parent_is_a_file(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    before = snapshot(tmp_path)
    code, err = call(app.main, ["--stats", tmp_path / "notes.txt" / "live.json"], capsys)
    assert_refused(code, err, "--stats", "notes.txt is a file, not a folder")
    assert_unchanged(before, snapshot(tmp_path))


def test_live_dump_last_that_is_a_file(tmp_path, capsys):
    (tmp_path / "dump").write_text("a file")
    before = snapshot(tmp_path)
    code, err = call(app.main, ["--dump-last", tmp_path / "dump"], capsys)
    assert_refused(code, err, "--dump-last", "is a file, not a folder")
    assert_unchanged(before, snapshot(tmp_path))


def test_live_stats_over_the_model_spelt_another_way(weights, tmp_path, capsys):
    other_spelling = weights.parent / ".." / weights.parent.name / weights.name
    before = snapshot(weights.parent, tmp_path)
    code, err = call(app.main, ["--model", weights, "--stats", other_spelling], capsys)
    assert_refused(code, err, "--stats", "is --model", "never writes over its input")
    assert_unchanged(before, snapshot(weights.parent, tmp_path))


def test_live_dump_last_into_the_models_folder(weights, capsys):
    before = snapshot(weights.parent)
    code, err = call(app.main, ["--model", weights, "--dump-last", weights.parent], capsys)
    assert_refused(code, err, "--dump-last", "contains --model")
    assert_unchanged(before, snapshot(weights.parent))


class Source:
    """Stands in for screen capture: a moving picture, BGRA like mss's."""

    rect = (0, 0, *SIZE)

    def __init__(self):
        self.pictures = [np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]) for image in frames(8)]
        self.count = 0

    def grab(self):
        self.count += 1
        return self.pictures[self.count % len(self.pictures)]

    def close(self):
        pass


@pytest.fixture
def live(tmp_path, monkeypatch):
    """app.main with capture replaced by Source (everything else real: Qt offscreen, model, window)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QApplication.instance() or QApplication([])
    monkeypatch.setattr(app, "run", functools.partial(app.run, source_factory=Source, capture_rect=Source.rect,
                                                      log=lambda message: None))
    return app.main


@pytest.mark.slow
def test_live_stats_lost_to_a_full_disk_at_exit_is_one_line(live, weights, small_disk, tmp_path, capsys):
    """The disk had room when the session started and fills during it: at exit, one line and a non-zero
    exit instead of a traceback, and no temporary file left on the disk."""
    from PySide6.QtCore import QTimer

    disk = small_disk(64)
    filler = disk / "filler"

    def fill():
        with open(filler, "wb", buffering=0) as handle:  # unbuffered: nothing left to fail at close
            try:
                while True:
                    handle.write(b"x" * 4096)
            except OSError:
                pass

    QTimer.singleShot(200, fill)
    before = snapshot(tmp_path)
    code, err = call(live, ["--model", weights, "--backend", "torch-cpu", "--size", "64x40", "--threads", "1",
                            "--exit-after", "1", "--stats", disk / "live.json"], capsys)
    assert_refused(code, err, "--stats", str(disk / "live.json"), "the disk is full")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]
    assert_unchanged(before, snapshot(tmp_path), allowed=(filler, tmp_path / "settings", tmp_path / "cache"))


@pytest.mark.slow
def test_live_writes_through_no_planted_link(live, weights, tmp_path, capsys):
    """Links at every name the old writers used (.NAME.tmp) point at a victim: it stays as it was, and
    the session's files are written all the same."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    out, dump = tmp_path / "out", tmp_path / "out" / "dump"
    dump.mkdir(parents=True)
    for link in (out / ".live.json.tmp", dump / ".shown.png.tmp", dump / ".captured.png.tmp"):
        link.symlink_to(victim)
    code, err = call(live, ["--model", weights, "--backend", "torch-cpu", "--size", "64x40", "--threads", "1",
                            "--exit-after", "1", "--stats", out / "live.json", "--dump-last", dump], capsys)
    assert code == 0, err
    assert victim.read_bytes() == b"precious"
    assert json.loads((out / "live.json").read_text())["frames"]["shown"] > 0
    assert all((dump / name).is_file() and not (dump / name).is_symlink() for name in ("shown.png", "captured.png"))
    assert all((folder / name).is_symlink() for folder, name in ((out, ".live.json.tmp"), (dump, ".shown.png.tmp")))


# ------------------------------------------------------------------------------------------ live app: models

def bad_engines(engines: Path, weights: Path) -> list[str]:
    """Engines whose sidecars are broken in the ways a file we did not write can be; their names."""
    engines.mkdir()
    broken = {
        "not-an-object-64x40-fp32.onnx": [],
        "wrong-types-64x40-fp32.onnx": {"sidecar_format": "livestyle-engine/1", "format": "onnx", "precision": "fp32",
                                        "input": "64x40", "weights": str(weights), "parity": True},
        "size-a-string-64x40-fp32.onnx": {"sidecar_format": "livestyle-engine/1", "format": "onnx",
                                          "precision": "fp32", "artifact_sha256": "0" * 64,
                                          "input": {"size": "64x40"}, "weights": {"sha256": "0" * 64,
                                                                                   "path": str(weights)},
                                          "versions": {}, "parity": {"passed": True}},
    }
    for name, sidecar in broken.items():
        (engines / name).write_bytes(b"onnx")
        (engines / f"{name}.json").write_text(json.dumps(sidecar))
    return list(broken)


@needs_ort
def test_default_model_survives_bad_sidecars(weights, tmp_path):
    runs = tmp_path / "runs"
    (runs / "mine").mkdir(parents=True)
    (runs / "mine" / "game2movie.safetensors").write_bytes(weights.read_bytes())
    names = bad_engines(tmp_path / "engines", weights)
    warnings = []
    choice = selection.resolve_model(None, tmp_path / "engines", runs, probe(), warnings.append)
    assert choice.weights == runs / "mine" / "game2movie.safetensors" and choice.engine is None
    for name in names:
        assert any(line.startswith("warning: skipping the engine " + name) for line in warnings), warnings


@needs_ort
def test_video_default_model_survives_bad_sidecars(clip, weights, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.chdir(tmp_path)  # engines/ and runs/ are looked up from here
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    (tmp_path / "runs" / "mine" / "game2movie.safetensors").write_bytes(weights.read_bytes())
    names = bad_engines(tmp_path / "engines", weights)
    code, err = call(video_main, video(clip, "out.mkv"), capsys)
    assert code == 0, err
    assert "model mine/game2movie.safetensors" in caplog.text and "Traceback" not in err
    assert all(f"skipping the engine {name}" in err for name in names), err
    assert frame_count(tmp_path / "out.mkv") == FRAMES


# ------------------------------------------------------------------------------------------ live app: display

@pytest.mark.slow
def test_a_dead_x_server_ends_the_session_with_an_error(weights, tmp_path):
    """The X server stops mid-session: the app says so in one line, exits non-zero (it used to exit 0,
    as if the session had ended normally), and still writes the session's numbers."""
    if not have_xvfb():
        pytest.skip(SKIP_REASON)
    stats = tmp_path / "live.json"
    server, display = start_xvfb(320, 240)
    try:
        env = x_env(display, XDG_CONFIG_HOME=str(tmp_path / "config"), LIVESTYLE_CACHE_DIR=str(tmp_path / "cache"))
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from livestyle.live.app import main; sys.exit(main(sys.argv[1:]))",
             "--model", str(weights), "--backend", "torch-cpu", "--region", "0,0,128,72", "--size", "64x40",
             "--threads", "1", "--fps-cap", "10", "--exit-after", "120", "--stats", str(stats)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert wait_for_window(display, "^livestyle — ", timeout=60) is not None, "the window did not appear"
        except BaseException:
            process.kill()
            raise
    finally:
        server.kill()
        server.wait()
    output, _ = process.communicate(timeout=120)
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert process.returncode == 1, output
    # Which line depends on timing: the server may die before the capture thread has connected to it.
    def names_the_display(text: str) -> bool:
        return "lost the display" in text or "screen capture cannot start" in text

    assert "Traceback" not in output and len(errors) == 1 and names_the_display(errors[0]), output
    data = json.loads(stats.read_text())
    # The --stats file says the same as the printed line, under the same race.
    assert data["error"] and names_the_display(data["error"]) and data["exit_reason"] in ("display lost", "error")


BREAKS_ITS_OWN_XLIB_CONNECTION = r"""
import ctypes, os, socket, sys, threading, time
from livestyle.live.app import main

def break_an_xlib_connection(flag):
    while not os.path.exists(flag):
        time.sleep(0.05)
    xlib = ctypes.CDLL("libX11.so.6")
    xlib.XOpenDisplay.restype, xlib.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    xlib.XConnectionNumber.argtypes, xlib.XSync.argtypes = [ctypes.c_void_p], [ctypes.c_void_p, ctypes.c_int]
    display = xlib.XOpenDisplay(None)
    socket.socket(fileno=os.dup(xlib.XConnectionNumber(display))).shutdown(socket.SHUT_RDWR)
    xlib.XSync(display, 0)  # finds the connection broken: Xlib's I/O error handler, then the end of the process

threading.Thread(target=break_an_xlib_connection, args=(sys.argv[1],), daemon=True).start()
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_xlib_finding_the_display_gone_still_ends_in_one_line(weights, tmp_path):
    """Which part of Qt notices a dead X server first is a race; when it is Xlib, Xlib ends the process
    from C (exit under running threads, which could crash). Its I/O error handler is per process, so a
    connection of our own that breaks reaches the app's handler the same way, every time: the session
    still writes its numbers and ends with one error line and exit code 1."""
    if not have_xvfb():
        pytest.skip(SKIP_REASON)
    stats, flag = tmp_path / "live.json", tmp_path / "break-now"
    server, display = start_xvfb(320, 240)
    try:
        env = x_env(display, XDG_CONFIG_HOME=str(tmp_path / "config"), LIVESTYLE_CACHE_DIR=str(tmp_path / "cache"))
        process = subprocess.Popen(
            [sys.executable, "-c", BREAKS_ITS_OWN_XLIB_CONNECTION, str(flag), "--model", str(weights), "--backend",
             "torch-cpu", "--region", "0,0,128,72", "--size", "64x40", "--threads", "1", "--fps-cap", "10",
             "--exit-after", "120", "--stats", str(stats)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert wait_for_window(display, "^livestyle — ", timeout=60) is not None, "the window did not appear"
            flag.touch()
            output, _ = process.communicate(timeout=120)
        finally:
            process.kill()
    finally:
        server.kill()
        server.wait()
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert process.returncode == 1, output
    assert "Traceback" not in output and "XIO" not in output, output
    assert len(errors) == 1 and "lost the display" in errors[0], output
    assert "lost the display" in json.loads(stats.read_text())["error"]


# ------------------------------------------------------------------------------------------ video: flags and paths

VIDEO_REFUSALS = {
    "NaN stabiliser strength": (["--stabilize", "nan"], ["--stabilize", "finite"]),
    "crf past the encoder's scale": (["--crf", "99"], ["--crf", "out of range"]),
    "infinite scale": (["--scale", "inf"], ["--scale", "finite"]),
    "output size beyond any screen": (["--output-size", "65536x65536"], ["--output-size", "8192"]),
    "absurd thread count": (["--threads", "100000"], ["--threads", "out of range"]),
}


@pytest.mark.parametrize("argv, fragments", VIDEO_REFUSALS.values(), ids=VIDEO_REFUSALS.keys())
def test_video_refuses_bad_numbers(argv, fragments, clip, weights, tmp_path, capsys):
    before = snapshot(tmp_path, clip)
    code, err = call(video_main, [clip, tmp_path / "out.mkv", "--model", weights, "--quiet", *argv], capsys)
    assert_refused(code, err, *fragments)
    assert_unchanged(before, snapshot(tmp_path, clip))


def test_video_out_is_in_spelt_another_way(clip, weights, capsys):
    other_spelling = clip.parent / "." / ".." / clip.parent.name / clip.name
    before = snapshot(clip.parent)
    code, err = call(video_main, video(other_spelling, clip, "--model", weights, "--overwrite"), capsys)
    assert_refused(code, err, str(clip), "is the input video")
    assert_unchanged(before, snapshot(clip.parent))


def test_video_out_is_a_hard_link_to_in(clip, weights, tmp_path, capsys):
    linked = tmp_path / "linked.mkv"
    os.link(clip, linked)
    before = snapshot(tmp_path, clip)
    code, err = call(video_main, video(clip, linked, "--model", weights, "--overwrite"), capsys)
    assert_refused(code, err, str(linked), "is the input video")
    assert_unchanged(before, snapshot(tmp_path, clip))


def test_video_stats_over_the_input_or_the_model(clip, weights, tmp_path, capsys):
    before = snapshot(tmp_path, clip, weights)
    code, err = call(video_main, video(clip, tmp_path / "out.mkv", "--model", weights, "--stats", clip), capsys)
    assert_refused(code, err, "--stats", "is IN")
    code, err = call(video_main, video(clip, tmp_path / "out.mkv", "--model", weights, "--stats", weights), capsys)
    assert_refused(code, err, "--stats", "is --model")
    assert_unchanged(before, snapshot(tmp_path, clip, weights))


def test_video_stats_in_a_read_only_folder_costs_no_encoding(clip, weights, small_disk, tmp_path, capsys):
    disk = small_disk(64, readonly=True)
    before = snapshot(tmp_path)
    code, err = call(video_main, video(clip, tmp_path / "out.mkv", "--model", weights, "--stats",
                                       disk / "stats.json"), capsys)
    assert_refused(code, err, "--stats", "read-only")
    assert "livestyle.video: model" not in err  # refused before any model was loaded
    assert_unchanged(before, snapshot(tmp_path))


def test_video_out_in_a_read_only_folder(clip, weights, small_disk, capsys):
    disk = small_disk(64, readonly=True)
    code, err = call(video_main, video(clip, disk / "out.mkv", "--model", weights), capsys)
    assert_refused(code, err, "OUT", str(disk / "out.mkv"), "read-only")
    assert list(disk.iterdir()) == []


def test_video_out_on_a_full_disk_keeps_the_old_out(weights, small_disk, tmp_path, capsys):
    source = write_clip(tmp_path / "long.mkv", count=2 * FRAMES)  # its stylised copy is larger than the disk
    disk = small_disk(256)
    out = disk / "out.mkv"
    out.write_bytes(b"the previous result")
    before = snapshot(tmp_path)
    code, err = call(video_main, [source, out, "--model", weights, "--overwrite", "--quiet", "--backend",
                                  "torch-cpu", "--threads", "1", "--codec", "ffv1"], capsys)
    assert_refused(code, err, str(out), "the disk is full")
    assert out.read_bytes() == b"the previous result"
    assert [p.name for p in disk.iterdir()] == ["out.mkv"]  # no temporary file left
    assert_unchanged(before, snapshot(tmp_path))


def test_video_writes_through_no_planted_link(clip, weights, tmp_path, capsys):
    """Links at every name the old writers used (.OUT.partial-PID.ext, .stats.json.tmp) point at a victim:
    it stays as it was, and OUT and the stats are written all the same."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    out, stats = tmp_path / "out.mkv", tmp_path / "stats.json"
    for name in (f".out.partial-{os.getpid()}.mkv", ".out.partial.mkv", ".stats.json.tmp"):
        (tmp_path / name).symlink_to(victim)
    code, err = call(video_main, video(clip, out, "--model", weights, "--stats", stats), capsys)
    assert code == 0, err
    assert victim.read_bytes() == b"precious"
    assert frame_count(out) == FRAMES and not out.is_symlink()
    assert json.loads(stats.read_text())["frames"] == FRAMES
    assert (tmp_path / ".stats.json.tmp").is_symlink()


# ------------------------------------------------------------------------------------------ video: truncated input

def cut(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


@pytest.fixture(scope="module", params=["mkv", "mp4"])
def truncated(request, tmp_path_factory) -> tuple[Path, int]:
    """(a video cut off at 70 %, how many frames of it still decode). Matroska only estimates its frame
    count from the duration; MP4 (its index first, as a streaming recorder writes it) states it."""
    folder = tmp_path_factory.mktemp("truncated")
    if request.param == "mkv":
        whole = write_clip(folder / "whole.mkv")
    elif H264:
        whole = write_clip(folder / "whole.mp4", codec="libx264", options={"movflags": "faststart"})
    else:
        pytest.skip("this PyAV build has no libx264")
    damaged = cut(whole, folder / f"cut.{request.param}", 0.7)
    decodable = frame_count(damaged)
    assert 0 < decodable < FRAMES
    return damaged, decodable


def test_truncated_video_is_refused(truncated, weights, tmp_path, capsys):
    """Refused once the frames run out, with nothing left: no OUT, no temporary file, and not the
    folders made for OUT either."""
    damaged, decodable = truncated
    before = snapshot(tmp_path, damaged)
    code, err = call(video_main, video(damaged, tmp_path / "new" / "folder" / "out.mkv", "--model", weights), capsys)
    assert_refused(code, err, str(damaged), f"only {decodable} of", "--allow-truncated")
    assert_unchanged(before, snapshot(tmp_path, damaged))


def test_truncated_video_is_written_as_far_as_it_decodes_when_allowed(truncated, weights, tmp_path, capsys):
    damaged, decodable = truncated
    out = tmp_path / "out.mkv"
    code, err = call(video_main, video(damaged, out, "--model", weights, "--allow-truncated"), capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and f"only {decodable} of" in warnings[0], err
    assert frame_count(out) == decodable


def test_metrics_refuses_a_truncated_source(truncated, clip, capsys):
    damaged, decodable = truncated
    code, err = call(metrics.main, [damaged, damaged], capsys)
    assert_refused(code, err, str(damaged), f"only {decodable} of")


# ------------------------------------------------------------------------------------------ metrics

METRICS_REFUSALS = {
    "missing output": (lambda clip, tmp: [clip, tmp / "missing.mkv"], ["missing.mkv", "no such file"]),
    "a folder as the source": (lambda clip, tmp: [tmp, clip], [" is a folder"]),
    "not a video": (lambda clip, tmp: [clip, tmp / "notes.mkv"], ["notes.mkv", "cannot be read"]),
    "width of zero": (lambda clip, tmp: [clip, clip, "--width", "0"], ["--width", "out of range"]),
    "width past any screen": (lambda clip, tmp: [clip, clip, "--width", "100000"], ["--width", "out of range"]),
}


@pytest.mark.parametrize("arguments, fragments", METRICS_REFUSALS.values(), ids=METRICS_REFUSALS.keys())
def test_metrics_bad_inputs(arguments, fragments, clip, tmp_path, capsys):
    (tmp_path / "notes.mkv").write_text("not a video at all")
    before = snapshot(tmp_path, clip)
    code, err = call(metrics.main, arguments(clip, tmp_path), capsys)
    assert_refused(code, err, *fragments)
    assert_unchanged(before, snapshot(tmp_path, clip))
