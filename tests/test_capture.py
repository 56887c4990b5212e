"""Screen capture: targets and their checks, display detection, high-DPI conversion (pure), and real
grabs from an Xvfb server (skipped where Xvfb is not installed)."""
import subprocess
import time

import numpy as np
import pytest

from devtools.xvfb import SKIP_REASON, have_xvfb, start_content, x_env, xserver_with_content
from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import parse_region
from livestyle.live.capture import (
    CaptureError,
    CaptureTarget,
    ScreenGeometry,
    ScreenSource,
    WindowFinder,
    check_region,
    display_problem,
    logical_to_physical,
    monitor_rect,
    physical_to_logical,
    resolve_target,
    session_warning,
)

MONITORS = [  # mss layout: [0] all together, then each monitor (a 4K at 150 % left of a 1080p)
    {"left": 0, "top": 0, "width": 5760, "height": 2160},
    {"left": 0, "top": 0, "width": 3840, "height": 2160},
    {"left": 3840, "top": 0, "width": 1920, "height": 1080},
]


def test_parse_region():
    assert parse_region("10, 20,300,200") == (10, 20, 300, 200)
    for bad in ("10,20,300", "a,b,c,d", "0,0,0,100", "0,0,-5,5"):
        with pytest.raises(LivestyleError, match="--region"):
            parse_region(bad)


def test_region_checked_against_the_monitors():
    assert check_region((3900, 100, 640, 360), MONITORS) == (3900, 100, 640, 360)
    with pytest.raises(LivestyleError, match="outside every monitor.*1: 3840x2160 at 0,0; 2: 1920x1080 at 3840,0"):
        check_region((7000, 0, 100, 100), MONITORS)
    with pytest.raises(LivestyleError, match="outside every monitor"):
        check_region((3840, 1200, 100, 100), MONITORS)  # below the small monitor: in the bounding box, on no monitor
    with pytest.raises(LivestyleError, match="reaches past the edge.*--region 5700,0,60,100"):
        check_region((5700, 0, 200, 100), MONITORS)


def test_monitor_numbers():
    assert monitor_rect(2, MONITORS) == (3840, 0, 1920, 1080)
    assert monitor_rect(0, MONITORS) == (0, 0, 5760, 2160)
    with pytest.raises(LivestyleError, match="--monitor 3: there is no such monitor"):
        monitor_rect(3, MONITORS)
    target = resolve_target(monitors=MONITORS)
    assert (target.kind, target.monitor) == ("monitor", 1)
    assert resolve_target(region="3840,0,1920,1080", monitors=MONITORS).rect == (3840, 0, 1920, 1080)


def test_display_detection():
    assert "no display" in display_problem({}, "Linux")
    wayland = display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "Linux")
    assert "Wayland" in wayland and "X11 session" in wayland
    assert display_problem({"DISPLAY": ":0"}, "Linux") is None
    assert display_problem({}, "Windows") is None
    assert "XWayland" in session_warning({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "Linux")
    assert session_warning({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "Linux") is None


def test_window_capture_says_where_it_is_not_supported():
    with pytest.raises(LivestyleError, match="X11.*--region"):
        WindowFinder("SuperTux", system="Windows")
    with pytest.raises(LivestyleError, match="X11"):
        WindowFinder("SuperTux", system="Linux", environ={})


@pytest.mark.parametrize("dpr", [1.0, 1.25, 1.5, 2.0])
def test_physical_and_logical_pixels_agree(dpr):
    # Two screens: a high-DPI one at the origin, a 100 % one to its right (Qt keeps each screen's origin
    # in native pixels and divides the extent by its devicePixelRatio).
    big = ScreenGeometry(0, 0, round(3840 / dpr), round(2160 / dpr), dpr)
    side = ScreenGeometry(3840, 0, 1920, 1080, 1.0)
    screens = [big, side]
    region = (400, 200, 1280, 720)
    logical = physical_to_logical(region, screens)
    assert logical == (round(400 / dpr), round(200 / dpr), round(1280 / dpr), round(720 / dpr))
    back = logical_to_physical(logical, screens)
    assert all(abs(a - b) <= 2 for a, b in zip(back, region, strict=False))
    assert physical_to_logical((3900, 10, 640, 360), screens) == (3900, 10, 640, 360)  # on the 100 % screen


def test_grab_failure_names_the_lost_monitor(monkeypatch):
    from mss.exception import ScreenShotError

    class FakeMSS:
        def __init__(self, monitors):
            self.monitors = monitors

        def grab(self, box):
            raise ScreenShotError("XGetImage() failed")

        def close(self):
            pass

    unplugged = [{"left": 0, "top": 0, "width": 3840, "height": 2160}, MONITORS[1]]
    monkeypatch.setattr("livestyle.live.capture.open_mss", lambda: FakeMSS(unplugged))
    monkeypatch.setattr("livestyle.live.capture.MONITOR_REFRESH_S", 1e9)  # only the failed grab notices
    source = ScreenSource(CaptureTarget("monitor", (3840, 0, 1920, 1080), monitor=2))
    with pytest.raises(CaptureError, match="monitor 2 is gone"):
        source.grab()
    source = ScreenSource(CaptureTarget("region", (3900, 0, 100, 100)))
    with pytest.raises(CaptureError, match="no longer on the screen"):
        source.grab()


def test_monitor_layout_is_watched(monkeypatch):
    """Unplugging a monitor may leave grabs working (black pixels); the periodic re-read notices it."""
    layouts = [MONITORS, MONITORS, [MONITORS[0], MONITORS[1]]]

    class FakeMSS:
        def __init__(self):
            self.monitors = layouts.pop(0) if len(layouts) > 1 else layouts[0]

        def grab(self, box):
            class Shot:
                width, height, raw = box["width"], box["height"], bytearray(box["width"] * box["height"] * 4)
            return Shot()

        def close(self):
            pass

    monkeypatch.setattr("livestyle.live.capture.open_mss", FakeMSS)
    monkeypatch.setattr("livestyle.live.capture.MONITOR_REFRESH_S", 0.0)
    source = ScreenSource(CaptureTarget("monitor", (3840, 0, 1920, 1080), monitor=2))
    assert source.grab().shape == (1080, 1920, 4)
    with pytest.raises(CaptureError, match="monitor 2 is gone"):
        source.grab()


# ------------------------------------------------------------------------------------------- under Xvfb

@pytest.fixture(scope="module")
def xserver():
    if not have_xvfb():
        pytest.skip(SKIP_REASON)
    with xserver_with_content((800, 600), "livestyle-capture-content", (40, 30, 320, 240)) as display:
        yield display


@pytest.fixture
def on_display(xserver, monkeypatch):
    for key, value in x_env(xserver).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xserver


def test_grab_is_a_bgra_view_of_the_screen(on_display):
    target = resolve_target(region="40,30,320,240")
    source = ScreenSource(target)
    try:
        frame = source.grab()
        second = source.grab()
    finally:
        source.close()
    assert frame.shape == (240, 320, 4) and frame.dtype == np.uint8
    assert not frame.flags.owndata and frame.base is not None  # a view of mss's buffer, not a copy
    assert not np.shares_memory(frame, second)  # each grab has its own buffer: safe to hand to another thread
    assert tuple(frame[120, 300, :3]) == (0, 200, 0)  # the content's green half, BGR
    assert tuple(frame[40, 160 + 20 + 20, :3]) == (255, 255, 255)  # its white square


def test_region_outside_the_xvfb_screen(on_display):
    with pytest.raises(LivestyleError, match="outside every monitor"):
        resolve_target(region="900,700,100,100")
    with pytest.raises(LivestyleError, match="no such monitor"):
        resolve_target(monitor=2)


@pytest.mark.slow
def test_window_by_title_then_closed(on_display):
    target = resolve_target(window="livestyle-capture-content")
    assert target.kind == "window" and target.rect == (40, 30, 320, 240)
    extra = start_content(on_display, "livestyle-short-lived", (500, 300, 160, 120))
    try:
        target = resolve_target(window="short-lived")
        assert target.rect == (500, 300, 160, 120)
        source = ScreenSource(target)
        assert source.grab().shape == (120, 160, 4)
        extra.kill()
        extra.wait()
        time.sleep(0.6)  # past the window refresh interval
        with pytest.raises(CaptureError, match="was closed"):
            source.grab()
        source.close()
    finally:
        extra.kill()
    with pytest.raises(LivestyleError, match="no visible window"):
        resolve_target(window="no such window title")
    assert subprocess.run(["xdotool", "version"], capture_output=True).returncode == 0
