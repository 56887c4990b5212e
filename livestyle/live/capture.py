"""Screen capture for the live app: mss ≥ 10.2 (`mss.MSS`), one instance per capture thread.

    target = resolve_target(region="100,100,1280,720")   # or monitor=2, or window="SuperTux"
    source = ScreenSource(target)                         # create it in the thread that grabs
    frame = source.grab()                                 # uint8 H×W×4 BGRA, a view of mss's buffer

All rectangles here are (left, top, width, height) in mss's coordinates: physical pixels on X11 and
Windows (mss makes itself DPI aware), points on macOS. Qt works in logical pixels;
`physical_to_logical` / `logical_to_physical` convert with each screen's devicePixelRatio.

Every grab returns a fresh buffer (mss copies the X11 shared-memory image into a new bytearray), so
the numpy view handed to the inference thread is never overwritten by the next grab.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import numpy as np

from livestyle.core.errors import LivestyleError, first_line
from livestyle.core.sizes import Rect, parse_region

INSTALL_GUI = "pip install -e '.[gui]'"
WINDOW_REFRESH_S = 0.5  # how often a --window target's position and size are looked up again
MONITOR_REFRESH_S = 2.0  # how often the monitor layout is read again (unplugged monitor, new resolution)


class CaptureError(LivestyleError):
    """Capture stopped working mid-run: the monitor went away, the window was closed, the display died."""


# ---------------------------------------------------------------------------------------------- display

def display_problem(environ=None, system: str | None = None) -> str | None:
    """Why screen capture cannot work in this session (None: it can, as far as the environment says)."""
    environ = os.environ if environ is None else environ
    system = system or platform.system()
    if system != "Linux":
        return None
    x11, wayland = environ.get("DISPLAY"), environ.get("WAYLAND_DISPLAY")
    if not x11 and wayland:
        return (f"this is a Wayland session (WAYLAND_DISPLAY={wayland}, no DISPLAY): mss captures the screen "
                "through X11 only. Log in to an X11 session (e.g. 'Ubuntu on Xorg' on the login screen), "
                "or start livestyle with DISPLAY set to XWayland's display to capture X11 games only")
    if not x11:
        return ("no display: DISPLAY is not set, so there is no screen to capture and nowhere to show the "
                "result. Run livestyle inside a desktop session (for a headless test: Xvfb :99 & "
                "DISPLAY=:99 python -m livestyle ...)")
    return None


def session_warning(environ=None, system: str | None = None) -> str | None:
    """A non-fatal warning: a Wayland session with XWayland (DISPLAY set) captures X11 windows only."""
    environ = os.environ if environ is None else environ
    if (system or platform.system()) != "Linux" or not environ.get("DISPLAY"):
        return None
    if environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or environ.get("WAYLAND_DISPLAY"):
        return ("Wayland session: mss sees the screen through XWayland only, so native Wayland windows come "
                "out black (games running under XWayland/X11 are fine). For full capture log in to an X11 "
                "session (e.g. 'Ubuntu on Xorg')")
    return None


def mss_class():
    """mss.MSS (mss ≥ 10.2; mss.mss is its deprecated factory)."""
    try:
        import mss
    except ModuleNotFoundError:
        raise LivestyleError(f"screen capture needs mss: {INSTALL_GUI}") from None
    cls = getattr(mss, "MSS", None)
    if cls is None:
        raise LivestyleError(f"mss {getattr(mss, '__version__', '?')} is too old (livestyle needs mss >= 10.2 "
                             f"for mss.MSS): {INSTALL_GUI}")
    return cls


def open_mss():
    """A new mss instance; a LivestyleError that says why when the display cannot be opened."""
    cls = mss_class()
    try:
        return cls()
    except Exception as error:  # noqa: BLE001 — ScreenShotError, OSError from a missing libX11, ...
        display = os.environ.get("DISPLAY", "")
        raise LivestyleError(f"screen capture cannot start on display {display!r}: {first_line(error)} "
                             f"(is the X server running and may this user connect to it?)") from None


def list_monitors() -> list[dict]:
    """mss's monitors: [0] the bounding box of all, [1..] each monitor."""
    with open_mss() as sct:
        return [dict(monitor) for monitor in sct.monitors]


# ---------------------------------------------------------------------------------------------- rectangles

def rect_of(monitor: dict) -> Rect:
    return int(monitor["left"]), int(monitor["top"]), int(monitor["width"]), int(monitor["height"])


def intersect(a: Rect, b: Rect) -> Rect | None:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    if right <= left or bottom <= top:
        return None
    return left, top, right - left, bottom - top


def contains(outer: Rect, inner: Rect) -> bool:
    return (inner[0] >= outer[0] and inner[1] >= outer[1] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3])


def format_rect(rect: Rect) -> str:
    return f"{rect[2]}x{rect[3]} at {rect[0]},{rect[1]}"


def describe_monitors(monitors: list[dict]) -> str:
    if len(monitors) <= 1:
        return "no monitors"
    return "; ".join(f"{index}: {format_rect(rect_of(monitor))}" for index, monitor in enumerate(monitors)
                     if index > 0)


def check_region(region: Rect, monitors: list[dict]) -> Rect:
    """The region if it lies on the screen; LivestyleError (listing the monitors) otherwise."""
    screens = [rect_of(m) for m in monitors[1:]]
    if not any(intersect(region, screen) for screen in screens):
        raise LivestyleError(f"--region {format_rect(region)} is outside every monitor (monitors: "
                             f"{describe_monitors(monitors)}); pick a region on one of them")
    everything = rect_of(monitors[0])
    if not contains(everything, region):
        clipped = intersect(region, everything)
        assert clipped is not None, "it meets a monitor, so it meets the screen"
        raise LivestyleError(f"--region {format_rect(region)} reaches past the edge of the screen "
                             f"({format_rect(everything)}); the part on screen is --region "
                             f"{clipped[0]},{clipped[1]},{clipped[2]},{clipped[3]}")
    return region


def monitor_rect(index: int, monitors: list[dict]) -> Rect:
    if not 0 <= index < len(monitors) or len(monitors) <= 1:
        raise LivestyleError(f"--monitor {index}: there is no such monitor (monitors: {describe_monitors(monitors)}; "
                             f"0 means all of them together)")
    return rect_of(monitors[index])


def primary_index(monitors: list[dict]) -> int:
    for index, monitor in enumerate(monitors[1:], start=1):
        if monitor.get("is_primary"):
            return index
    return 1


# ---------------------------------------------------------------------------------------------- windows

@dataclass
class WindowInfo:
    ident: int
    name: str
    rect: Rect


class WindowFinder:
    """Find a top-level window by (part of) its title and follow its position. X11 only: xdotool if
    installed, else python-xlib; elsewhere a LivestyleError that says what to use instead."""

    def __init__(self, title: str, system: str | None = None, environ=None):
        environ = os.environ if environ is None else environ
        self.title = title
        system = system or platform.system()
        if system != "Linux" or not environ.get("DISPLAY"):
            raise LivestyleError(f"--window is supported on X11 (Linux) only here; on {system} capture the "
                                 f"game's area with --region X,Y,WIDTH,HEIGHT or its --monitor N")
        if shutil.which("xdotool"):
            self.method = "xdotool"
        else:
            try:
                import Xlib.display  # noqa: F401
            except Exception:  # noqa: BLE001
                raise LivestyleError("--window needs xdotool or python-xlib to find windows on X11: "
                                     "sudo apt install xdotool (or pip install python-xlib), or use --region") from None
            self.method = "xlib"

    # xdotool ------------------------------------------------------------------------------------
    @staticmethod
    def _xdotool(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=5)

    def _find_xdotool(self) -> list[WindowInfo]:
        # xdotool matches --name as a case-insensitive regular expression; the title is meant literally.
        found = self._xdotool("search", "--onlyvisible", "--name", re.escape(self.title))
        windows = []
        for line in found.stdout.split():
            if not line.isdigit():
                continue
            ident = int(line)
            rect = self._geometry_xdotool(ident)
            if rect is None or rect[2] < 2 or rect[3] < 2:
                continue
            name = self._xdotool("getwindowname", str(ident)).stdout.strip()
            windows.append(WindowInfo(ident, name, rect))
        return windows

    def _geometry_xdotool(self, ident: int) -> Rect | None:
        result = self._xdotool("getwindowgeometry", "--shell", str(ident))
        if result.returncode != 0:
            return None
        values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        try:
            return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])
        except (KeyError, ValueError):
            return None

    # python-xlib --------------------------------------------------------------------------------
    def _find_xlib(self) -> list[WindowInfo]:
        import Xlib.display

        display = Xlib.display.Display()
        try:
            root = display.screen().root
            windows, stack = [], list(root.query_tree().children)
            while stack:
                window = stack.pop()
                try:
                    name = window.get_wm_name() or ""
                    if isinstance(name, bytes):
                        name = name.decode("utf-8", "replace")
                    attributes = window.get_attributes()
                    if self.title.lower() in name.lower() and attributes.map_state == 2:  # IsViewable
                        rect = self._geometry_xlib(display, window.id)
                        if rect and rect[2] >= 2 and rect[3] >= 2:
                            windows.append(WindowInfo(window.id, name, rect))
                    stack.extend(window.query_tree().children)
                except Exception:  # noqa: BLE001 — windows come and go while we walk the tree
                    continue
            return windows
        finally:
            display.close()

    @staticmethod
    def _geometry_xlib(display, ident: int) -> Rect | None:
        try:
            window = display.create_resource_object("window", ident)
            geometry = window.get_geometry()
            position = window.translate_coords(display.screen().root, 0, 0)
            return -position.x, -position.y, geometry.width, geometry.height
        except Exception:  # noqa: BLE001 — BadWindow: it was closed
            return None

    # public -------------------------------------------------------------------------------------
    def find(self) -> WindowInfo:
        windows = self._find_xdotool() if self.method == "xdotool" else self._find_xlib()
        if not windows:
            raise LivestyleError(f"--window {self.title!r}: no visible window has that in its title (start the "
                                 f"game first, or use --region / --monitor)")
        return windows[0]

    def geometry(self, ident: int) -> Rect | None:
        """The window's rectangle now, or None when it no longer exists."""
        if self.method == "xdotool":
            return self._geometry_xdotool(ident)
        import Xlib.display

        display = Xlib.display.Display()
        try:
            return self._geometry_xlib(display, ident)
        finally:
            display.close()


# ---------------------------------------------------------------------------------------------- targets

@dataclass
class CaptureTarget:
    kind: str  # monitor | region | window
    rect: Rect  # physical pixels (mss coordinates)
    monitor: int | None = None
    title: str | None = None
    window: WindowInfo | None = None
    finder: WindowFinder | None = None

    def describe(self) -> str:
        if self.kind == "monitor":
            return f"monitor {self.monitor} ({format_rect(self.rect)})"
        if self.window is not None:
            return f"window {self.window.name!r} ({format_rect(self.rect)})"
        return f"region {format_rect(self.rect)}"


def resolve_target(monitor: int | None = None, region: str | Rect | None = None, window: str | None = None,
                   monitors: list[dict] | None = None) -> CaptureTarget:
    """What to capture, checked against the monitors now connected. Default: the primary monitor."""
    monitors = monitors if monitors is not None else list_monitors()
    if len(monitors) <= 1:
        raise LivestyleError("screen capture sees no monitor on this display")
    if region is not None:
        rect = parse_region(region) if isinstance(region, str) else (region[0], region[1], region[2], region[3])
        return CaptureTarget("region", check_region(rect, monitors))
    if window is not None:
        finder = WindowFinder(window)
        info = finder.find()
        on_screen = clip_to_screen(info.rect, monitors)
        if on_screen is None:
            raise LivestyleError(f"--window {window!r}: the window {info.name!r} ({format_rect(info.rect)}) is not on "
                                 f"any monitor ({describe_monitors(monitors)})")
        return CaptureTarget("window", on_screen, title=window, window=info, finder=finder)
    index = primary_index(monitors) if monitor is None else int(monitor)
    return CaptureTarget("monitor", monitor_rect(index, monitors), monitor=index)


def clip_to_screen(rect: Rect, monitors: list[dict]) -> Rect | None:
    if not any(intersect(rect, rect_of(m)) for m in monitors[1:]):
        return None
    return intersect(rect, rect_of(monitors[0]))


# ---------------------------------------------------------------------------------------------- grabbing

def bgra_view(shot) -> np.ndarray:
    """The screenshot's BGRA bytes as an H×W×4 uint8 array, without copying."""
    width, height = shot.width, shot.height
    flat = np.frombuffer(shot.raw, dtype=np.uint8)
    if flat.size == width * height * 4:
        return flat.reshape(height, width, 4)
    stride = flat.size // height  # rows padded by the platform: view past the padding
    return flat[: stride * height].reshape(height, stride)[:, : width * 4].reshape(height, width, 4)


class ScreenSource:
    """Grabs one capture target. Create, use and close it in the same (capture) thread: it owns its
    own mss instance. grab() returns uint8 H×W×4 BGRA; CaptureError when the target is gone."""

    def __init__(self, target: CaptureTarget):
        self.target = target
        self.rect = target.rect
        self._sct = open_mss()
        self._checked = time.perf_counter()

    def _box(self) -> dict:
        left, top, width, height = self.rect
        return {"left": left, "top": top, "width": width, "height": height}

    def _follow_window(self) -> None:
        now = time.perf_counter()
        if now - self._checked < WINDOW_REFRESH_S:
            return
        self._checked = now
        finder, window = self.target.finder, self.target.window
        assert finder is not None and window is not None, "a window target has both"
        rect = finder.geometry(window.ident)
        if rect is None:
            raise CaptureError(f"the captured window {window.name!r} was closed")
        clipped = clip_to_screen(rect, self._sct.monitors)
        if clipped is None or clipped[2] < 1 or clipped[3] < 1:
            raise CaptureError(f"the captured window {window.name!r} moved off every monitor")
        self.rect = clipped

    def _check_monitors(self) -> None:
        """Every few seconds, read the monitor layout afresh (mss caches it per instance): a monitor that was
        unplugged is an error, a monitor whose resolution changed is followed."""
        now = time.perf_counter()
        if now - self._checked < MONITOR_REFRESH_S:
            return
        self._checked = now
        monitors = self._reopen()
        if self.target.kind == "monitor":
            index = self.target.monitor or 0
            if index >= len(monitors) or len(monitors) <= 1:
                raise CaptureError(f"monitor {index} is gone (unplugged?); monitors now: "
                                   f"{describe_monitors(monitors)}")
            self.rect = rect_of(monitors[index])
        elif not any(intersect(self.rect, rect_of(m)) for m in monitors[1:]) or \
                not contains(rect_of(monitors[0]), self.rect):
            raise CaptureError(f"the captured area {format_rect(self.rect)} is no longer on the screen (monitor "
                               f"unplugged or resolution changed?); monitors now: {describe_monitors(monitors)}")

    def grab(self) -> np.ndarray:
        if self.target.kind == "window":
            self._follow_window()
        else:
            self._check_monitors()
        try:
            shot = self._sct.grab(self._box())
        # Not only ScreenShotError: on a broken X connection mss's XCB layer raises what it happens to hit.
        except Exception as error:
            self._diagnose(error)
            raise  # _diagnose raises; this keeps type checkers content
        return bgra_view(shot)

    def _reopen(self, cause: Exception | None = None) -> list[dict]:
        """A fresh mss instance (it caches the layout) and the monitors it sees; CaptureError when the
        display itself is gone (the X server stopped), whatever the X library raised on the way."""
        self.close()
        try:
            self._sct = open_mss()
            return [dict(monitor) for monitor in self._sct.monitors]
        except Exception as reopen:  # noqa: BLE001
            why = f"{first_line(cause)}; " if cause is not None else ""
            raise CaptureError(f"screen capture lost the display ({why}{first_line(reopen)})") from None

    def _diagnose(self, error: Exception) -> None:
        """A failed grab: say whether the monitor (or window) went away or the display itself failed."""
        monitors = self._reopen(error)
        finder, window = self.target.finder, self.target.window
        if finder is not None and window is not None:
            rect = finder.geometry(window.ident)
            if rect is None:
                raise CaptureError(f"the captured window {window.name!r} was closed") from None
        if self.target.kind == "monitor" and (self.target.monitor or 0) >= len(monitors):
            raise CaptureError(f"monitor {self.target.monitor} is gone (unplugged?); monitors now: "
                               f"{describe_monitors(monitors)}") from None
        if not any(intersect(self.rect, rect_of(m)) for m in monitors[1:]) or \
                not contains(rect_of(monitors[0]), self.rect):
            raise CaptureError(f"the captured area {format_rect(self.rect)} is no longer on the screen (monitor "
                               f"unplugged or resolution changed?); monitors now: "
                               f"{describe_monitors(monitors)}") from None
        raise CaptureError(f"screen capture failed: {first_line(error)}") from None

    def close(self) -> None:
        # Once only: mss frees the X connection again on a second close (a double free that aborts the
        # process), and a failed reopen leaves the closed instance behind.
        sct, self._sct = self._sct, None
        if sct is None:
            return
        try:
            sct.close()
        except Exception:  # noqa: BLE001 — closing a connection that already broke
            pass


# ---------------------------------------------------------------------------------------------- high DPI

@dataclass
class ScreenGeometry:
    """One Qt screen: its logical geometry and devicePixelRatio. Qt keeps each screen's top-left corner
    in native (physical) coordinates and scales only the extent, so a physical point p on the screen
    maps to logical origin + (p − origin) / dpr."""

    left: int
    top: int
    width: int
    height: int
    dpr: float = 1.0

    @property
    def physical(self) -> Rect:
        return self.left, self.top, round(self.width * self.dpr), round(self.height * self.dpr)

    @property
    def logical(self) -> Rect:
        return self.left, self.top, self.width, self.height


def screen_for(rect: Rect, screens: list[ScreenGeometry], physical: bool = True) -> ScreenGeometry | None:
    """The screen holding most of the rectangle."""
    best, area = None, 0
    for screen in screens:
        overlap = intersect(rect, screen.physical if physical else screen.logical)
        if overlap and overlap[2] * overlap[3] > area:
            best, area = screen, overlap[2] * overlap[3]
    return best


def physical_to_logical(rect: Rect, screens: list[ScreenGeometry]) -> Rect:
    screen = screen_for(rect, screens, physical=True) or (screens[0] if screens else ScreenGeometry(0, 0, 1, 1))
    dpr = screen.dpr or 1.0
    left = screen.left + round((rect[0] - screen.left) / dpr)
    top = screen.top + round((rect[1] - screen.top) / dpr)
    return left, top, max(1, round(rect[2] / dpr)), max(1, round(rect[3] / dpr))


def logical_to_physical(rect: Rect, screens: list[ScreenGeometry]) -> Rect:
    screen = screen_for(rect, screens, physical=False) or (screens[0] if screens else ScreenGeometry(0, 0, 1, 1))
    dpr = screen.dpr or 1.0
    left = screen.left + round((rect[0] - screen.left) * dpr)
    top = screen.top + round((rect[1] - screen.top) * dpr)
    return left, top, round(rect[2] * dpr), round(rect[3] * dpr)
