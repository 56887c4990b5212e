"""The live app: the window (offscreen Qt), its HUD and hotkeys, settings, sizes and models, every bad
input's message, and one end-to-end run under a real X server (Xvfb) driven with xdotool."""
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from devtools.xvfb import SKIP_REASON, have_xvfb, wait_for_window, x_env, xserver_with_content
from livestyle.core.errors import LivestyleError
from livestyle.live import app
from livestyle.live.capture import ScreenGeometry, intersect, physical_to_logical
from livestyle.live.pipeline import Pipeline
from livestyle.model.generator import Generator
from livestyle.model.weights import save_generator
from livestyle.runtime.stylizer import Stylizer

SIZE = (64, 48)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Generator(features=8).eval()


@pytest.fixture(scope="module")
def weights(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "faces-test" / "game2movie.safetensors"
    path.parent.mkdir()
    save_generator(tiny, path, "game2movie")
    return path


pytestmark = pytest.mark.usefixtures("private_cache_and_threads")


class MovingSource:
    rect = (0, 0, 128, 96)

    def __init__(self):
        self.count = 0

    def grab(self):
        self.count += 1
        frame = np.zeros((96, 128, 4), np.uint8)
        frame[:, :64, 2] = 255  # left half red, right half a moving green level
        frame[:, 64:, 1] = (self.count * 7) % 256
        return frame

    def close(self):
        pass


def pump(qapp, condition, timeout=10.0):
    deadline = time.perf_counter() + timeout
    while not condition() and time.perf_counter() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    qapp.processEvents()
    return condition()


def settings():
    return app.open_settings()


def make_window(tiny, mode="mirror", capture_rect=(2000, 0, 128, 96), **options):
    from livestyle.live.window import LiveWindow

    stylizer = Stylizer(tiny, "torch-cpu", size=SIZE, threads=1)
    pipeline = Pipeline(MovingSource, stylizer, fps_cap=30)
    window = LiveWindow(pipeline, mode=mode, capture_rect=capture_rect, model_label="tiny", settings=settings(),
                        global_hotkeys=False, log=lambda message: None, **options)
    return window, pipeline


def press(qapp, window, key):
    from PySide6.QtTest import QTest

    window.activateWindow()  # shortcuts go to the active window
    pump(qapp, window.isActiveWindow, timeout=5)
    QTest.keyClick(window, key)
    qapp.processEvents()


def test_window_paints_the_stylised_frames(qapp, tiny):
    window, pipeline = make_window(tiny, hud=False)
    window.resize(320, 240)
    window.show()
    pipeline.start()
    try:
        assert pump(qapp, lambda: pipeline.stats.shown >= 5), "no frame reached the window"
        assert pipeline.stop()  # the stylizer is not shared between threads: stop before reusing it here
        assert window.windowTitle() == "livestyle — tiny — torch-cpu at 64x48"
        shown = window.shown_array
        np.testing.assert_array_equal(shown, window.last_shown.image)
        np.testing.assert_array_equal(shown, pipeline.stylizer(window.last_shown.source))  # stylised, not the capture
        # What the widget painted is that array scaled to the window (BGR channels not swapped).
        painted = window.grab().toImage().convertToFormat(window.grab().toImage().Format.Format_RGB888)
        pixels = np.frombuffer(painted.constBits(), np.uint8).reshape(painted.height(), painted.bytesPerLine())
        rgb = pixels[:, : painted.width() * 3].reshape(painted.height(), painted.width(), 3)
        expected = cv2.resize(window.shown_array, (320, 240), interpolation=cv2.INTER_LINEAR)[..., ::-1]
        assert np.abs(rgb[20:-20, 20:-20].astype(int) - expected[20:-20, 20:-20]).mean() < 25
        summary = pipeline.summary()
        assert summary["latency_ms"]["median"] is not None and summary["latency_ms"]["median"] < 2000
    finally:
        window.close()
    assert pipeline.stopped


def test_painting_does_not_drop_references_to_none(qapp, tiny):
    """PySide6 6.12.0's QPainter calls each drop a reference to None: on Python 3.11 the app died with
    "none_dealloc" after a few minutes of frames. Repaint the real window (HUD on) many times and check."""
    window, pipeline = make_window(tiny, hud=True)
    window.resize(320, 240)
    window.show()
    pipeline.start()
    try:
        assert pump(qapp, lambda: pipeline.stats.shown >= 2), "no frame reached the window"
        assert pipeline.stop()
        before = sys.getrefcount(None)
        for _ in range(300):
            window.repaint()
        assert sys.getrefcount(None) >= before - 50, "the Qt binding leaks references to None (avoid PySide6 6.12.0)"
    finally:
        window.close()


def test_hud_and_hotkeys(qapp, tiny):
    from PySide6.QtCore import Qt

    switched = []

    def switch_model():
        switched.append(True)
        return Stylizer(tiny, "torch-cpu", size=SIZE, threads=1), "other model"

    window, pipeline = make_window(tiny, hud=True, switch_model=switch_model)
    window.show()
    window.activateWindow()
    pipeline.start()
    assert pump(qapp, lambda: pipeline.stats.shown >= 2)
    lines = window.hud_lines()
    assert lines[0].startswith("capture ") and "inference" in lines[0] and "display" in lines[0]
    assert "latency" in lines[1] and "dropped" in lines[1] and "torch-cpu at 64x48" in lines[2] and "tiny" in lines[2]
    press(qapp, window, Qt.Key.Key_H)
    assert window.hud is False
    press(qapp, window, Qt.Key.Key_H)
    assert window.hud is True
    press(qapp, window, Qt.Key.Key_P)
    assert pipeline.paused
    press(qapp, window, Qt.Key.Key_P)
    assert not pipeline.paused
    press(qapp, window, Qt.Key.Key_S)
    assert window.view == "side" and pipeline.want_original
    assert pump(qapp, lambda: window.shown_array is not None and window.shown_array.shape == (48, 128, 3))
    press(qapp, window, Qt.Key.Key_B)
    assert window.view == "blend"
    press(qapp, window, Qt.Key.Key_BracketRight)
    assert window.blend == 0.6
    press(qapp, window, Qt.Key.Key_BracketLeft)
    press(qapp, window, Qt.Key.Key_BracketLeft)
    assert window.blend == 0.4
    press(qapp, window, Qt.Key.Key_B)
    assert window.view == "stylised" and not pipeline.want_original
    assert pipeline.stabilizer is None and "stabiliser off" in window.hud_lines()[2]
    press(qapp, window, Qt.Key.Key_T)
    assert pipeline.stabilizer is not None and pipeline.stabilizer.strength == 0.5
    shown = pipeline.stats.shown
    assert pump(qapp, lambda: pipeline.stats.shown >= shown + 3)  # frames keep coming through the stabiliser
    window._hud_updated = 0.0
    assert "stabiliser 0.5" in window.hud_lines()[2]
    press(qapp, window, Qt.Key.Key_T)
    assert pipeline.stabilizer is None
    press(qapp, window, Qt.Key.Key_M)
    assert pump(qapp, lambda: window.model_label == "other model")
    assert switched and "other model" in window.windowTitle()
    press(qapp, window, Qt.Key.Key_Q)
    assert not window.isVisible() and window.exit_reason == "quit key" and pipeline.stopped
    stored = settings()
    assert app.setting_float(stored, "blend", 0) == 0.4 and app.setting_bool(stored, "hud", False) is True
    assert stored.value("geometry") is not None


def test_escape_quits_and_warnings_show(qapp, tiny):
    from PySide6.QtCore import Qt

    window, pipeline = make_window(tiny)
    window.show()
    window._on_event("warning", "backend onnxruntime failed mid-run (x); falling back to torch-cpu")
    assert window.warnings and "falling back" in window._notice
    press(qapp, window, Qt.Key.Key_Escape)
    assert not window.isVisible() and window.exit_reason == "quit key"


def test_overlay_window_is_click_through_over_the_region(qapp, tiny):
    from PySide6.QtCore import Qt

    window, pipeline = make_window(tiny, mode="overlay", capture_rect=(40, 30, 320, 200))
    window.place()
    flags = window.windowFlags()
    for flag in (Qt.WindowType.FramelessWindowHint, Qt.WindowType.WindowStaysOnTopHint,
                 Qt.WindowType.WindowTransparentForInput):
        assert flags & flag
    assert window.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    dpr = qapp.primaryScreen().devicePixelRatio()
    geometry = window.geometry()
    assert (geometry.x(), geometry.y(), geometry.width(), geometry.height()) == \
        tuple(round(v / dpr) for v in (40, 30, 320, 200))
    window.close()


def test_overlap_warning(qapp, tiny):
    window, pipeline = make_window(tiny, capture_rect=(0, 0, 400, 300))
    window.setGeometry(100, 100, 320, 240)
    window.show()
    assert window.check_overlap() and window.overlapping
    assert any("films its own output" in warning and "another monitor" in warning for warning in window.warnings)
    window.move(500, 350)
    assert not window.check_overlap()
    window.close()


def test_mirror_placement_avoids_the_captured_area():
    from livestyle.live.window import mirror_placement

    one = [ScreenGeometry(0, 0, 1280, 720, 1.0)]
    spot = mirror_placement((0, 0, 320, 240), one, (320, 240))
    assert intersect(spot, (0, 0, 320, 240)) is None and spot[2] >= 320
    two = [ScreenGeometry(0, 0, 1920, 1080, 1.0), ScreenGeometry(1920, 0, 1280, 1024, 1.5)]
    spot = mirror_placement((0, 0, 1920, 1080), two, (640, 360))
    assert spot[0] >= 1920  # on the other monitor
    hidpi = [ScreenGeometry(0, 0, 1536, 864, 1.25)]  # 1920x1080 physical at 125 %
    spot = mirror_placement((0, 0, 960, 1080), hidpi, (320, 360))
    assert intersect(spot, physical_to_logical((0, 0, 960, 1080), hidpi)) is None


# ------------------------------------------------------------------------------------------- bad input

def args_for(*argv):
    return app.build_parser().parse_args(list(argv))


@pytest.mark.parametrize("argv, message", [
    (["--fps-cap", "0"], "--fps-cap: 0 is out of range: use a number above 0"),
    (["--fps-cap", "inf"], "--fps-cap: 'inf': use a finite number"),
    (["--threads", "0"], "--threads: 0 is out of range: use a whole number from 1"),
    (["--exit-after", "-1"], "--exit-after: -1 is out of range"),
    (["--exit-after", "1e12"], "--exit-after: 1e+12 is out of range"),
    (["--scale", "0"], "--scale: 0 is out of range"),
    (["--scale", "nan"], "--scale: 'nan': use a finite number"),
    (["--size", "100x8"], "at least 16"),  # the model's own multiple is checked when it is opened
    (["--size", "16392x64"], "at most 8192"),
    (["--monitor", "-1"], "--monitor: -1 is out of range: use a whole number from 0"),
])
def test_bad_arguments(argv, message, capsys):
    assert app.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1, error


def test_conflicting_options_are_refused(capsys):
    assert app.main(["--monitor", "1", "--region", "0,0,10,10"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert app.main(["--size", "64x48", "--scale", "0.5"]) == 2


def test_no_display_and_wayland(monkeypatch, capsys):
    if sys.platform != "linux":
        pytest.skip("display detection is for X11/Wayland")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert app.main(["--exit-after", "1"]) == 2
    assert "error: no display" in capsys.readouterr().err
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert app.main(["--exit-after", "1"]) == 2
    assert "Wayland session" in capsys.readouterr().err


def test_missing_and_corrupt_models(qapp, tmp_path):
    broken = tmp_path / "game2movie.safetensors"
    broken.write_bytes(b"not a safetensors file at all")
    with pytest.raises(LivestyleError, match="not a readable .safetensors file"):
        app.run(args_for("--model", str(broken)), source_factory=MovingSource, capture_rect=(0, 0, 128, 96))
    with pytest.raises(LivestyleError, match="no such file"):
        app.run(args_for("--model", str(tmp_path / "nothing.engine")), source_factory=MovingSource,
                capture_rect=(0, 0, 128, 96))


def test_overlay_refused_where_it_would_film_itself(qapp, weights):
    if sys.platform != "linux":
        pytest.skip("X11 only")
    with pytest.raises(LivestyleError, match="--mode overlay: on X11.*--mode mirror"):
        app.run(args_for("--model", str(weights), "--mode", "overlay"), source_factory=MovingSource,
                capture_rect=(0, 0, 128, 96))


@pytest.mark.slow
def test_run_with_exit_after_and_stats(qapp, weights, tmp_path):
    stats = tmp_path / "out" / "live.json"
    code = app.run(args_for("--model", str(weights), "--backend", "torch-cpu", "--size", "64x48", "--exit-after",
                            "1.5", "--stats", str(stats), "--no-hud", "--threads", "1"),
                   source_factory=MovingSource, capture_rect=(0, 0, 128, 96), log=lambda message: None)
    assert code == 0
    data = json.loads(stats.read_text())
    assert data["exit_reason"] == "exit-after" and data["error"] is None
    assert data["frames"]["shown"] >= 3 and data["frames"]["captured"] >= data["frames"]["inferred"] >= \
        data["frames"]["shown"]
    assert data["backend"] == "torch-cpu" and data["size"] == [64, 48] and data["hud"] is False
    assert data["model"] == "faces-test/game2movie.safetensors" and data["threads"] == 1
    assert 0 < data["latency_ms"]["median"] <= data["latency_ms"]["p95"] < 5000
    assert 0 < data["fps"]["capture"] <= 30 * 1.2 and 1.0 <= data["seconds"] < 30
    assert [p.name for p in stats.parent.iterdir()] == ["live.json"]  # written atomically: no temporary file left


@pytest.mark.slow
def test_run_switches_model_and_stops_on_capture_loss(qapp, weights, tmp_path):
    """M switches to the next model (runs/ newest first, then the older one); a capture that fails
    mid-run (window closed) ends the app with exit status 1, the message, and the stats still written."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from livestyle.live.capture import CaptureError
    from livestyle.live.window import LiveWindow

    runs = tmp_path / "runs"
    for index, name in enumerate(("older", "newer")):
        path = runs / name / "game2movie.safetensors"
        path.parent.mkdir(parents=True)
        path.write_bytes(weights.read_bytes())
        os.utime(path, (1_000_000 + index, 1_000_000 + index))

    class Closing(MovingSource):
        def grab(self):
            self.began = getattr(self, "began", time.perf_counter())
            if time.perf_counter() - self.began > 2.0:
                raise CaptureError("the captured window 'game' was closed")
            return super().grab()

    def press_m():
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, LiveWindow) and widget.isVisible():
                widget.act("model")

    messages = []
    QTimer.singleShot(600, press_m)
    stats = tmp_path / "live.json"
    code = app.run(args_for("--backend", "torch-cpu", "--size", "64x48", "--exit-after", "30", "--stats", str(stats),
                            "--threads", "1"), source_factory=Closing, capture_rect=(0, 0, 128, 96),
                   engines_dir=tmp_path / "engines", runs_dir=runs, log=messages.append)
    assert code == 1
    data = json.loads(stats.read_text())
    assert data["error"] == "the captured window 'game' was closed" and data["exit_reason"] == "error"
    assert data["model"] == "older/game2movie.safetensors", messages
    assert data["model_path"].endswith("older/game2movie.safetensors")
    assert "livestyle: model newer/game2movie.safetensors (newest trained run in " in "\n".join(messages)
    assert "error: the captured window 'game' was closed" in messages
    assert data["frames"]["shown"] > 0 and data["seconds"] < 20


# ------------------------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def xserver():
    if not have_xvfb():
        pytest.skip(SKIP_REASON)
    with xserver_with_content((1280, 720), "livestyle-e2e-content", (0, 0, 320, 240)) as display:
        yield display


def test_region_outside_every_monitor_under_x(xserver, monkeypatch, capsys):
    for key, value in x_env(xserver).items():
        monkeypatch.setenv(key, value)
    assert app.main(["--region", "2000,0,100,100", "--exit-after", "1"]) == 2
    assert "outside every monitor" in capsys.readouterr().err


def x_geometry(display, window_id):
    out = subprocess.run(["xdotool", "getwindowgeometry", "--shell", str(window_id)], env=x_env(display),
                         capture_output=True, text=True, timeout=10).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return tuple(int(values[key]) for key in ("X", "Y", "WIDTH", "HEIGHT"))


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["1.25", "1.5", "2"])
def test_high_dpi_overlay_and_overlap_in_physical_pixels(xserver, scale):
    """At 125–200 % (QT_SCALE_FACTOR), the overlay placed over a region in mss's physical pixels lands on
    exactly those pixels of the X screen (±1 at fractional scales, Qt's logical pixels being integers), and
    the overlap check measures the mirror window in physical pixels too."""
    process = subprocess.Popen([sys.executable, "-m", "devtools.xvfb", "windows", "100", "60", "640", "360"],
                               env=x_env(xserver, QT_SCALE_FACTOR=scale), stdout=subprocess.PIPE, text=True)
    try:
        report = json.loads(process.stdout.readline())
        overlay = x_geometry(xserver, report["overlay"])  # asked while the windows are still up
        mirror = x_geometry(xserver, report["mirror"])
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert report["dpr"] == float(scale)
    assert all(abs(a - b) <= 1 for a, b in zip(overlay, (100, 60, 640, 360), strict=False)), overlay
    assert all(abs(a - b) <= 1 for a, b in zip(mirror, report["mirror_physical"], strict=False)), (mirror, report)
    assert mirror[:2] == (round(300 * float(scale)), round(200 * float(scale)))
    assert report["mirror_overlaps"] == (intersect(mirror, (100, 60, 640, 360)) is not None)


@pytest.mark.slow
def test_end_to_end_under_xvfb(xserver, weights, tmp_path):
    """python -m livestyle on a real X server: capture the content window's region, stylise, show; xdotool
    presses H in the livestyle window; --exit-after ends it and --stats / --dump-last tell what happened."""
    stats, dump = tmp_path / "stats.json", tmp_path / "dump"
    env = x_env(xserver, XDG_CONFIG_HOME=str(tmp_path / "config"), LIVESTYLE_CACHE_DIR=str(tmp_path / "cache"))
    command = [sys.executable, "-c", "import sys; from livestyle.live.app import main; sys.exit(main(sys.argv[1:]))",
               "--model", str(weights), "--backend", "torch-cpu", "--region", "0,0,320,240", "--threads", "1",
               "--exit-after", "5", "--stats", str(stats), "--dump-last", str(dump)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        window = wait_for_window(xserver, "^livestyle — ", timeout=60)
        assert window is not None, "the livestyle window did not appear"
        time.sleep(1.0)
        subprocess.run(["xdotool", "windowfocus", "--sync", str(window)], env=env, timeout=10, check=True)
        subprocess.run(["xdotool", "key", "--clearmodifiers", "h"], env=env, timeout=10, check=True)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output
    data = json.loads(stats.read_text())
    assert data["exit_reason"] == "exit-after" and data["error"] is None, output
    assert data["hud"] is False, f"the H key did not reach the window\n{output}"
    assert data["capture"] == [0, 0, 320, 240] and data["size"] == [320, 240]  # --size auto: the capture fits
    frames = data["frames"]
    assert frames["shown"] >= 10 and frames["captured"] >= frames["inferred"] >= frames["shown"]
    assert frames["captured"] - frames["inferred"] <= data["dropped"]["capture_to_inference"] + 1
    assert 0 < data["latency_ms"]["median"] <= data["latency_ms"]["p95"] < 3000
    assert 2 < data["fps"]["display"] <= 30 * 1.2 and 0 < data["inference_ms"]["median"] < 1000
    assert data["warnings"] == [], "the livestyle window was placed over the captured region"
    assert "livestyle: capturing region 320x240 at 0,0" in output and "frames shown" in output
    # The pixels shown are the stylised capture: rerun the model on the dumped capture and compare.
    captured, shown = cv2.imread(str(dump / "captured.png")), cv2.imread(str(dump / "shown.png"))
    assert captured.shape == (240, 320, 3) and tuple(captured[120, 300]) == (0, 200, 0)  # the content's green half
    stylizer = Stylizer(weights, "torch-cpu", size=(320, 240), threads=1)
    expected = stylizer(captured)
    assert np.abs(shown.astype(int) - expected).max() <= 2
    assert np.abs(shown.astype(int) - captured).mean() > 10  # and not the capture itself
    assert (tmp_path / "config" / "livestyle" / "livestyle.ini").is_file()  # settings saved under XDG_CONFIG_HOME


def test_a_region_left_of_the_primary_screen_reaches_our_check_not_argparse():
    from livestyle.core.sizes import parse_region

    args = args_for("--region", "-1280,0,1280,720", "--fps-cap", "30")
    assert args.region == "-1280,0,1280,720" and parse_region(args.region) == (-1280, 0, 1280, 720)
    with pytest.raises(LivestyleError, match="--region '-1280,0,0,720': width and height must be at least 1"):
        parse_region(args_for("--region", "-1280,0,0,720").region)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["SIGINT", "SIGTERM"])
def test_ctrl_c_and_sigterm_end_a_session_alike(qapp, weights, tmp_path, capsys, which):
    """Either signal ends the session as if its window were closed (the stats written), then one line and 130."""
    import signal as signals

    from PySide6.QtCore import QTimer

    stats = tmp_path / "live.json"
    QTimer.singleShot(1500, lambda: os.kill(os.getpid(), getattr(signals, which)))
    code = app.run(args_for("--model", str(weights), "--backend", "torch-cpu", "--size", "64x48", "--stats",
                            str(stats), "--no-hud", "--threads", "1", "--exit-after", "20"),
                   source_factory=MovingSource, capture_rect=(0, 0, 128, 96), log=lambda message: None)
    error = capsys.readouterr().err
    assert code == 130, error
    assert [line for line in error.splitlines() if line.strip()] == [
        f"interrupted: {'Ctrl+C' if which == 'SIGINT' else 'SIGTERM'}; the session ended, --stats written"]
    data = json.loads(stats.read_text())
    assert data["exit_reason"].startswith("interrupted") and data["frames"]["shown"] >= 1
