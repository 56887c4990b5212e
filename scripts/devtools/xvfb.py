"""Helpers for the tests and benchmarks that need a real X server: start Xvfb on a free display, and show
a window of known, moving content in a separate process
(`python -m devtools.xvfb content TITLE X Y W H`).

The content window: the left half cycles through colours (so frames differ), the right half is
fixed green (0, 200, 0) with a white square, so a capture can be checked pixel by pixel."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: child processes import livestyle from it
XVFB_PACKAGES = ("xvfb xdotool libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
                 "libxcb-shape0 libxkbcommon-x11-0")
SKIP_REASON = f"Xvfb or xdotool not installed (apt-get install {XVFB_PACKAGES})"


def have_xvfb() -> bool:
    return shutil.which("Xvfb") is not None and shutil.which("xdotool") is not None


def start_xvfb(width: int = 1280, height: int = 720) -> tuple[subprocess.Popen, str]:
    """Xvfb on a display number it picks itself (-displayfd); returns (process, ':N')."""
    read, write = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                                "-nolisten", "tcp", "-noreset"], pass_fds=(write,),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    number = b""
    deadline = time.time() + 15
    with os.fdopen(read, "rb") as pipe:
        while time.time() < deadline and not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        process.kill()
        raise RuntimeError("Xvfb did not start")
    return process, f":{number.decode().strip()}"


def x_env(display: str, **extra) -> dict:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "scripts")])}
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("XDG_SESSION_TYPE", None)
    env.update(extra)
    return env


def wait_for_window(display: str, title: str, timeout: float = 30.0) -> int | None:
    """The X window id of the first visible window whose title contains `title`, once it is mapped."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title], capture_output=True,
                               text=True, env=x_env(display), timeout=10)
        ids = [int(line) for line in found.stdout.split() if line.isdigit()]
        if ids:
            return ids[0]
        time.sleep(0.2)
    return None


@contextlib.contextmanager
def xserver_with_content(screen: tuple[int, int], title: str, rect):
    """An Xvfb of `screen` size showing a window of known moving content at `rect`; yields DISPLAY."""
    process, display = start_xvfb(*screen)
    content = start_content(display, title, rect)
    try:
        yield display
    finally:
        for child in (content, process):
            child.kill()
            child.wait()


def start_content(display: str, title: str, rect=(0, 0, 320, 240)) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "devtools.xvfb", "content", title, *map(str, rect)],
                               env=x_env(display), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if wait_for_window(display, title) is None:
        process.kill()
        raise RuntimeError(f"the content window did not appear: {process.stderr.read().decode()[-500:]}")
    time.sleep(0.3)  # first paint
    return process


def content_main(title: str, left: int, top: int, width: int, height: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QPainter
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication([])

    class Content(QWidget):
        def __init__(self):
            super().__init__()
            self.tick = 0
            self.setWindowTitle(title)
            self.setWindowFlags(Qt.WindowType.FramelessWindowHint)
            self.setGeometry(left, top, width, height)

        def paintEvent(self, event):
            painter = QPainter(self)
            half = self.width() // 2
            painter.fillRect(0, 0, half, self.height(), QColor.fromHsv((self.tick * 23) % 360, 255, 230))
            painter.fillRect(half, 0, self.width() - half, self.height(), QColor(0, 200, 0))
            painter.fillRect(half + 20, 20, 40, 40, QColor(255, 255, 255))
            painter.end()

    run_ticking(app, Content(), 100)


def run_ticking(app, window, interval_ms: int) -> None:
    """Show `window` and repaint it every interval_ms with its `tick` counted up, until the app quits."""
    from PySide6.QtCore import QTimer

    window.show()
    timer = QTimer()

    def step():
        window.tick += 1
        window.update()

    timer.timeout.connect(step)
    timer.start(interval_ms)
    app.exec()


def windows_main(left: int, top: int, width: int, height: int) -> None:
    """An overlay LiveWindow over the rectangle (physical pixels) and a mirror LiveWindow at logical
    (300, 200, 200, 150); prints their X window ids, the dpr and the mirror's physical geometry as JSON."""
    import json

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from livestyle.live.pipeline import Pipeline
    from livestyle.live.window import LiveWindow

    class Dummy:
        name, size = "dummy", (64, 48)

        def __call__(self, frame):
            return frame

        def close(self):
            pass

    rect = (left, top, width, height)
    overlay = LiveWindow(Pipeline(lambda: None, Dummy()), mode="overlay", capture_rect=rect, global_hotkeys=False,
                         log=lambda message: None)
    overlay.place()
    overlay.show()
    mirror = LiveWindow(Pipeline(lambda: None, Dummy()), mode="mirror", capture_rect=rect, global_hotkeys=False,
                        log=lambda message: None)
    mirror.setGeometry(300, 200, 200, 150)
    mirror.show()

    def report():
        print(json.dumps({"dpr": app.primaryScreen().devicePixelRatio(), "overlay": int(overlay.winId()),
                          "mirror": int(mirror.winId()), "mirror_physical": mirror.physical_geometry(),
                          "mirror_overlaps": mirror.check_overlap()}), flush=True)
        QTimer.singleShot(20_000, app.quit)  # the test asks X about the windows, then ends this process

    QTimer.singleShot(300, report)
    app.exec()


if __name__ == "__main__" and sys.argv[1:2] == ["content"]:
    content_main(sys.argv[2], *map(int, sys.argv[3:7]))
elif __name__ == "__main__" and sys.argv[1:2] == ["windows"]:
    windows_main(*map(int, sys.argv[2:6]))
