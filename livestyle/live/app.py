"""python -m livestyle — the live app: capture the game's screen, show it movie-styled.

  python -m livestyle                                   # newest engine / trained run / demo model, primary monitor
  python -m livestyle --region 0,0,1280,720 --size auto --fps-cap 30
  python -m livestyle --window SuperTux --backend torch-cuda --scale 0.5
  python -m livestyle --monitor 2 --exit-after 60 --stats live.json
  python -m livestyle --faces                           # faces mode: the newest faces run (or the faces demo)
  python -m livestyle --faces runs/faces-…/ --model runs/frames-…/   # film faces on a film picture
  python -m livestyle doctor                            # what this machine offers, which backend auto picks

Keys in the window: P pause/resume, H HUD, S side by side (original | stylised), B blend, [ and ]
move the blend, M next model (of the kind in use), T stabiliser on/off, F faces mode on/off, Q or Esc
quit. With pynput installed, the same keys with Ctrl+Alt work anywhere on the desktop.

Mirror mode (the default on Linux) shows the stylised stream in an ordinary window: put it on another
monitor than the game. Overlay mode covers the captured area with a frameless, click-through window;
it needs a platform that can keep a window out of screen capture (Windows 10 2004+, macOS with
pyobjc) — on X11 the overlay would film itself, so it is refused there.
"""
from __future__ import annotations

import argparse
import ctypes
import functools
import os
import platform
import signal
import sys
import time
from pathlib import Path

import cv2
import torch

from livestyle.core.cli import ArgumentParser, bounded_int, finite_float, interrupted, run_command
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import EXIT_BAD_INPUT, EXIT_FAILED, LivestyleError
from livestyle.core.files import describe, make_folder, write_bytes, write_stats
from livestyle.core.logs import say
from livestyle.live import capture
from livestyle.live.pipeline import Pipeline
from livestyle.live.platform import can_exclude_from_capture, exclude_from_capture
from livestyle.runtime.builder import Models, build_stylizer, choose_models
from livestyle.runtime.machine import probe
from livestyle.runtime.options import RuntimeOptions
from livestyle.runtime.selection import (
    ModelChoice,
    ModelSwitcher,
    check_size_flag,
    open_for_capture,
)
from livestyle.runtime.stabilizer import LIVE_PRESET, Stabilizer
from livestyle.runtime.stylizer import Stylizer
from livestyle.runtime.timing import cache_output

DEFAULT_FPS_CAP = 30.0
MAX_EXIT_AFTER_S = 1_000_000  # Qt timers count milliseconds in a 32-bit int: about 24 days at most
DUMP_FILES = ("shown.png", "captured.png")


def default_mode() -> str:
    return "mirror" if platform.system() == "Linux" else "overlay"


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m livestyle", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    RuntimeOptions.add_arguments(parser, "live", "model")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--monitor", type=bounded_int(0, 64),
                        help="capture monitor N (1, 2, ...; 0 = all; default: the primary)")
    target.add_argument("--region", help="capture X,Y,WIDTH,HEIGHT (screen pixels)")
    target.add_argument("--window", metavar="TITLE", help="capture the window whose title contains TITLE (X11)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--size", default="auto", help="inference size WIDTHxHEIGHT (multiples of 8; any size for a "
                      "pyramid model), or auto (default): the largest of a few sizes the backend runs within the "
                      "fps cap")
    size.add_argument("--scale", type=finite_float(high=4, above=0),
                      help="inference size as a fraction of the captured size, e.g. 0.5")
    parser.add_argument("--mode", choices=("mirror", "overlay"),
                        help=f"mirror: an ordinary window; overlay: click-through over the captured area "
                             f"(default: the last mode used, else {default_mode()} here)")
    parser.add_argument("--fps-cap", type=finite_float(high=1000, above=0), default=DEFAULT_FPS_CAP,
                        help=f"at most this many frames a second (default {DEFAULT_FPS_CAP:.0f}), so the game keeps "
                             "its CPU and GPU")
    parser.add_argument("--stabilize", type=finite_float(0, 1), nargs="?", const=0.5, default=0.0, metavar="S",
                        help="reduce flicker by blending in the previous result along the optical flow of the "
                        "captured frames, strength 0..1 (default 0 = off; the flag alone means 0.5)")
    RuntimeOptions.add_arguments(parser, "live", "machine")
    parser.add_argument("--exit-after", type=finite_float(high=MAX_EXIT_AFTER_S, above=0), metavar="SECONDS",
                        help="quit after this many seconds")
    parser.add_argument("--stats", type=Path, metavar="PATH", help="write the run's numbers as JSON at exit")
    parser.add_argument("--no-hud", action="store_true", help="start with the HUD hidden (H toggles it)")
    parser.add_argument("--dump-last", type=Path, metavar="DIR", help="at exit, write the last shown frame "
                        "(shown.png) and the capture it was made from (captured.png) into DIR (for checks)")
    return parser


# ---------------------------------------------------------------------------------------------- settings


def open_settings():
    from PySide6.QtCore import QSettings

    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "livestyle", "livestyle")


def setting_bool(settings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def setting_float(settings, key: str, default: float) -> float:
    try:
        return float(settings.value(key, default))
    except (TypeError, ValueError):
        return default


# ---------------------------------------------------------------------------------------------- stats

def summary_line(summary: dict, seconds: float) -> str:
    frames, dropped = summary["frames"], summary["dropped"]

    def ms(value):
        return "—" if value is None else f"{value:.0f}"

    return (f"livestyle: {frames['shown']} frames shown in {seconds:.1f} s ({summary['fps']['display']:.1f} fps), "
            f"inference {ms(summary['inference_ms']['median'])} ms median, latency "
            f"{ms(summary['latency_ms']['median'])}/{ms(summary['latency_ms']['p95'])} ms (median/p95), dropped "
            f"{dropped['capture_to_inference']} capture→inference, {dropped['inference_to_display']} "
            f"inference→display, on {summary['backend']}")


# ---------------------------------------------------------------------------------------------- main

def check_arguments(args) -> None:
    """What argparse's types cannot check; the outputs can be written and stay apart from the model."""
    check_size_flag(args.size)
    check_outputs(args)


def check_outputs(args, models: Models | None = None) -> None:
    """Before the session: --stats and --dump-last can be written (a read-only or missing folder costs
    seconds, not the session's numbers at exit) and write over no model."""
    if args.dump_last is not None and args.stats is not None and \
            args.stats.resolve() in [args.dump_last.resolve() / n for n in DUMP_FILES]:
        raise LivestyleError(f"--stats {args.stats}: --dump-last writes a picture there; give the numbers "
                             f"another file name")
    declare(args, models).check()


def declare(args, models: Models | None = None) -> Declaration:
    """The live app reads the model(s) and the screen; it writes only its own files, each replaced by design:
    --stats, the pictures of --dump-last, the backend timing cache and its settings (window, toggles)."""
    chosen = [args.model] if models is None else models.paths()
    given = models is None or "--model" in (choice.why for choice in (models.frames, models.faces) if choice)
    outputs = [cache_output(), Output("the app's settings", Path(open_settings().fileName()), owned=True,
                                      best_effort=True)]
    if args.stats is not None:
        outputs.append(Output("--stats", args.stats, owned=True))
    if args.dump_last is not None:
        outputs.append(Output("--dump-last", args.dump_last, folder=True, owned=True))
    return Declaration("livestyle", {"--model" if given else "the model": chosen}, tuple(outputs))


def display_name() -> str:
    return f"the display {os.environ['DISPLAY']!r}" if os.environ.get("DISPLAY") else "the display"


def main(argv=None) -> int:
    """`python -m livestyle [options]`; returns the exit status (0 ok, 1 failed mid-run, 2 bad input)."""
    try:
        return run_command(build_parser(), argv, run, lambda error, args: describe(error, doing="livestyle failed on"))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run(args, source_factory=None, capture_rect=None, engines_dir: Path = Path("engines"),
        runs_dir: Path = Path("runs"), log=say) -> int:
    """The app. `source_factory` (tests) replaces screen capture: a callable returning an object with grab()
    and close(), with `capture_rect` (physical pixels) as the area it stands for."""
    check_arguments(args)
    options = RuntimeOptions.from_args(args, engines_dir=engines_dir, runs_dir=runs_dir).for_command("live")
    threads = options.cpu_threads("live")
    target, capture_rect = find_capture(args, source_factory, capture_rect, log)
    if source_factory is None:
        source_factory = functools.partial(capture.ScreenSource, target)  # called in the capture thread
    capture_size = (capture_rect[2], capture_rect[3]) if capture_rect else (640, 360)

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    machine = probe()
    models = choose_models(options, machine, log, "livestyle")
    check_outputs(args, models)

    qt_app, settings, mode = start_qt(args)

    def open_frames(choice: ModelChoice) -> Stylizer:
        return open_for_capture(choice, options, capture_size, log, size=args.size, scale=args.scale,
                                fps_cap=args.fps_cap)

    stylizer = build_stylizer(options, models, open_frames, command="live", frame_size=capture_size, log=log)
    log(f"livestyle: {stylizer.describe()}, {threads} CPU thread{'s' if threads > 1 else ''}, "
        f"fps cap {args.fps_cap:g}, {mode} mode{f', stabilise {args.stabilize:g}' if args.stabilize else ''}")

    pipeline = make_pipeline(args, source_factory, stylizer, threads, log)
    switcher = ModelSwitcher(models.running, options.backend, threads, engines_dir, runs_dir, machine, log,
                             current_size=lambda: pipeline.stylizer.size,
                             faces_mode=(lambda: pipeline.stylizer) if models.faces is not None else None,
                             options=options)
    window = open_window(args, pipeline, mode, capture_rect, models.label, settings, switcher, log)
    session = LiveSession(args, qt_app, pipeline, window, switcher, capture_rect, mode, threads, log)
    return session.run()


def find_capture(args, source_factory, capture_rect, log):
    """(target, its rectangle in physical pixels), once the display and Qt are known to be there; with a
    test's source_factory, no target and the rectangle given."""
    if source_factory is None:
        problem = capture.display_problem()
        if problem:
            raise LivestyleError(problem)
        warning = capture.session_warning()
        if warning:
            log(f"warning: {warning}")
    try:
        from PySide6.QtCore import QCoreApplication, QTimer  # noqa: F401 — imported here to fail early
        from PySide6.QtWidgets import QApplication  # noqa: F401
    except ImportError as error:
        raise LivestyleError(f"the live app needs PySide6 ({error}): pip install -e '.[gui]'") from None
    if source_factory is not None:
        return None, capture_rect
    target = capture.resolve_target(monitor=args.monitor, region=args.region, window=args.window)
    log(f"livestyle: capturing {target.describe()}")
    return target, target.rect


def start_qt(args):
    """(the QApplication, the saved settings, the mode): --mode, else the last mode used, else this
    platform's default; an overlay only where the platform can keep it out of capture."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    QCoreApplication.setOrganizationName("livestyle")
    QCoreApplication.setApplicationName("livestyle")
    settings = open_settings()
    mode = args.mode or str(settings.value("mode", default_mode()))
    if mode not in ("mirror", "overlay"):
        mode = default_mode()
    if mode == "overlay":
        possible, why = can_exclude_from_capture()
        if not possible:
            raise LivestyleError(f"--mode overlay: {why}")
    return qt_app, settings, mode


def make_pipeline(args, source_factory, stylizer, threads: int, log) -> Pipeline:
    """Capture → inference (→ --stabilize) → display, with torch-cpu to fall back on."""

    def fallback():
        """torch-cpu for the models and size that just failed (called on the inference thread)."""
        return pipeline.stylizer.on_cpu(threads, log)

    stabilizer = Stabilizer(args.stabilize, preset=LIVE_PRESET) if args.stabilize > 0 else None
    pipeline = Pipeline(source_factory, stylizer, fps_cap=args.fps_cap, fallback=fallback, stabilizer=stabilizer,
                        grain=args.grain)
    return pipeline  # a name, not a bare return: fallback() reads it


def open_window(args, pipeline, mode: str, capture_rect, label: str, settings, switcher, log):
    """The window, shown where the settings or a free spot put it (PySide6 is imported here: optional)."""
    from livestyle.live.window import LiveWindow

    hud = False if args.no_hud else setting_bool(settings, "hud", True)
    window = LiveWindow(pipeline, mode=mode, capture_rect=capture_rect, model_label=label, settings=settings,
                        hud=hud, blend=setting_float(settings, "blend", 0.5), switch_model=switcher, log=log)
    window.place(settings.value("geometry") if mode == "mirror" else None, pipeline.stylizer.size)
    window.show()
    window.excluded = exclude_from_capture(window, log) if platform.system() != "Linux" else False
    if window.global_hotkeys is not None:
        log(window.global_hotkeys.note)
    if mode == "overlay":
        log("livestyle: the overlay is click-through; quit with the global hotkey Ctrl+Alt+Q, --exit-after, or "
            "Ctrl+C in this terminal")
    return window


class LiveSession:
    """Qt's loop until the window closes, then the session's outputs (--stats, --dump-last), one line on
    how it went, and its exit code — also when the X server goes away under it."""

    def __init__(self, args, qt_app, pipeline, window, switcher, capture_rect, mode: str, threads: int, log):
        self.args, self.qt_app, self.pipeline, self.window = args, qt_app, pipeline, window
        self.switcher = switcher  # its .choice: the model running now
        self.capture_rect, self.mode, self.threads, self.log = capture_rect, mode, threads, log
        self.started = time.perf_counter()
        self.code: int | None = None  # the exit code, once finish() has run

    def run(self) -> int:
        from PySide6.QtCore import QTimer

        window = self.window
        window.closed.connect(self.qt_app.quit)
        if self.args.exit_after:
            QTimer.singleShot(int(self.args.exit_after * 1000), lambda: window.quit("exit-after"))

        stopped_by: list[str] = []

        def on_signal(number, _frame):  # Ctrl+C and SIGTERM alike: the session ends as if closed, then 130
            stopped_by.append("Ctrl+C" if number == signal.SIGINT else "SIGTERM")
            QTimer.singleShot(0, lambda: window.quit(f"interrupted ({stopped_by[0]})"))

        try:
            previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: Ctrl+C stays Python's
            previous = {}
        wake = QTimer()  # lets Python run its signal handler while Qt's loop is idle
        wake.timeout.connect(lambda: None)
        wake.start(200)

        self.started = time.perf_counter()
        restore_x_handler = exit_on_lost_display(self.last_words)
        lost = None
        self.pipeline.start()
        try:
            if window.isVisible() and self.qt_app.exec() != 0 and window.exit_reason is None:
                # Nothing of ours ends the loop with a non-zero code: Qt does when the connection to the
                # display breaks (the X server stopped). The session failed, and must not exit 0.
                lost = self.display_lost()
        finally:
            wake.stop()
            for number, handler in previous.items():
                signal.signal(number, handler)
            if window.isVisible():
                window.close()
            self.pipeline.stop()
        code = self.finish(lost)
        if lost is None:  # a live display: Qt's own handler back; a dead one keeps ours for the teardown
            restore_x_handler()
        if stopped_by and code == 0:
            written = " and ".join(flag for flag, value in (("--stats", self.args.stats),
                                                             ("--dump-last", self.args.dump_last)) if value)
            return interrupted(f"{stopped_by[0]}; the session ended" + (f", {written} written" if written else ""))
        return code

    def display_lost(self) -> str:
        if self.window.exit_reason is None:
            self.window.exit_reason = "display lost"
        return (f"lost {display_name()} after {time.perf_counter() - self.started:.1f} s (the X server stopped or "
                f"the connection to it broke); start livestyle again once the desktop is back")

    def stats(self, summary: dict, seconds: float, error: str | None) -> dict:
        """What --stats writes."""
        window, pipeline, choice = self.window, self.pipeline, self.switcher.choice
        return {
            "frames": summary["frames"], "dropped": summary["dropped"], "fps": summary["fps"],
            "inference_ms": summary["inference_ms"], "latency_ms": summary["latency_ms"],
            "backend": summary["backend"], "model": window.model_label,
            "model_path": str(choice.engine or choice.weights),
            "size": list(pipeline.stylizer.size), "capture": list(self.capture_rect) if self.capture_rect else None,
            "mode": self.mode, "fps_cap": self.args.fps_cap, "stabilize": self.args.stabilize,
            "threads": self.threads, "seconds": round(seconds, 3), "exit_reason": window.exit_reason,
            "error": error, "hud": window.hud, "blend": window.blend, "view": window.view,
            "warnings": window.warnings, "events": summary["events"],
            "faces": pipeline.stylizer.status(),
        }

    def finish(self, lost: str | None) -> int:
        """Stop the threads, write the session's outputs, say how it ended; the exit code."""
        args, window = self.args, self.window
        self.pipeline.stop()
        self.pipeline.stylizer.stop()  # faces mode's thread: OpenCV aborts the process if it is still inside
        seconds = time.perf_counter() - self.started
        summary = self.pipeline.summary()
        error = self.pipeline.error or lost
        failures = []  # the session's outputs; one failing must not cost the other
        if args.dump_last is not None:
            try:
                dump_last(args.dump_last, window)
            except LivestyleError as failure:
                failures.append(f"--dump-last: {failure}")
        if args.stats is not None:
            try:
                write_stats(args.stats, self.stats(summary, seconds, error))
            except LivestyleError as failure:
                failures.append(f"--stats: {failure}")
        self.log(summary_line(summary, seconds))
        if error and error not in window.warnings:  # the window logs (and keeps) the errors that reached it
            self.log(f"error: {error}")
        self.code = EXIT_BAD_INPUT if failures else EXIT_FAILED if error else window.exit_code
        if failures:
            raise LivestyleError("; ".join(failures))
        return self.code

    def last_words(self) -> int:
        """Xlib found the X server gone and ends the process after this: finish without touching Qt."""
        if self.code is not None:
            return self.code
        try:
            return self.finish(self.display_lost())
        except LivestyleError as failure:
            self.log(f"error: {failure}")
            return self.code if self.code is not None else EXIT_FAILED  # finish() set it before raising


def exit_on_lost_display(last_words):
    """When a call into Xlib finds the X server gone, Xlib's I/O error handler (Qt's, printing "The X11
    connection broke") ends the process with exit(1) from C, under running threads: the session's
    numbers are lost, and the exit itself can crash. Ours runs `last_words()` (no Qt in it: the
    outputs, one error line) and leaves with its exit code. Xlib allows no return, so this is the
    way out. Returns a function that puts the previous handler back; a no-op where there is no Xlib."""
    try:
        from PySide6.QtGui import QGuiApplication

        if platform.system() != "Linux" or QGuiApplication.platformName() != "xcb":
            return lambda: None
        xlib = ctypes.CDLL("libX11.so.6")  # the one Qt's xcb plugin loaded: a handler is per process
    except (ImportError, OSError):
        return lambda: None
    handler_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

    def handler(display) -> int:
        code = EXIT_FAILED
        try:
            code = last_words() or EXIT_FAILED
        finally:
            sys.stderr.flush()
            os._exit(code)

    callback = handler_type(handler)
    _X_HANDLERS.append(callback)  # Xlib holds a bare pointer: the callback must outlive this function
    xlib.XSetIOErrorHandler.argtypes = [ctypes.c_void_p]
    xlib.XSetIOErrorHandler.restype = ctypes.c_void_p
    previous = xlib.XSetIOErrorHandler(ctypes.cast(callback, ctypes.c_void_p))
    return lambda: xlib.XSetIOErrorHandler(previous)


_X_HANDLERS: list = []


def dump_last(folder: Path, window) -> None:
    make_folder(folder)
    styled = window.last_shown
    if styled is None or window.shown_array is None:
        return
    source = styled.source
    captured = cv2.cvtColor(source, cv2.COLOR_BGRA2BGR) if source.shape[2] == 4 else source
    for name, image in zip(DUMP_FILES, (window.shown_array, captured), strict=False):
        encoded, data = cv2.imencode(".png", image)
        if not encoded:
            raise LivestyleError(f"{folder / name}: OpenCV could not encode the frame as PNG")
        write_bytes(folder / name, data.tobytes())


if __name__ == "__main__":
    sys.exit(main())
