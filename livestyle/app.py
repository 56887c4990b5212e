"""python -m livestyle — the live app: capture the game's screen, show it movie-styled.

  python -m livestyle                                   # newest engine / trained run / demo model, primary monitor
  python -m livestyle --region 0,0,1280,720 --size auto --fps-cap 30
  python -m livestyle --window SuperTux --backend torch-cuda --scale 0.5
  python -m livestyle --monitor 2 --exit-after 60 --stats live.json
  python -m livestyle doctor                            # what this machine offers, which backend auto picks

Keys in the window: P pause/resume, H HUD, S side by side (original | stylised), B blend, [ and ]
move the blend, M next model, T stabiliser on/off, Q or Esc quit. With pynput installed, the same
keys with Ctrl+Alt work anywhere on the desktop.

Mirror mode (the default on Linux) shows the stylised stream in an ordinary window: put it on another
monitor than the game. Overlay mode covers the captured area with a frameless, click-through window;
it needs a platform that can keep a window out of screen capture (Windows 10 2004+, macOS with
pyobjc) — on X11 the overlay would film itself, so it is refused there.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .checks import MAX_SIDE, ArgumentParser, bounded_int, finite_float
from .errors import LivestyleError

DEFAULT_FPS_CAP = 30.0
AUTO_WIDTHS = (640, 480, 320, 256)  # --size auto tries these widths, keeping the capture's aspect
DEMO_MODEL = Path(__file__).resolve().parent / "assets" / "demo_game2movie.safetensors"
WEIGHTS_FILE = "game2movie.safetensors"
BACKEND_CHOICES = ("auto", "tensorrt", "torch-cuda", "onnxruntime", "torch-cpu")
EXIT_BAD_INPUT, EXIT_RUNTIME = 2, 1
MAX_THREADS = 1024
MAX_EXIT_AFTER_S = 1_000_000  # Qt timers count milliseconds in a 32-bit int: about 24 days at most


def default_threads() -> int:
    return max(1, (os.cpu_count() or 1) // 2)


def default_mode() -> str:
    return "mirror" if platform.system() == "Linux" else "overlay"


def add_model_options(parser: argparse.ArgumentParser, default_note: str = "") -> None:
    """--model and --backend, worded the same in every command that runs a model."""
    parser.add_argument("--model", type=Path, help="an engine in engines/ (.engine/.onnx with its sidecar), generator "
                        "weights (.safetensors) or a run folder (default: the newest usable engine, else the newest "
                        f"runs/*/game2movie.safetensors, else the bundled demo model{default_note})")
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                        help="inference backend (default auto: the fastest this machine runs)")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m livestyle", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(parser)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--monitor", type=bounded_int(0, 64),
                        help="capture monitor N (1, 2, ...; 0 = all; default: the primary)")
    target.add_argument("--region", help="capture X,Y,WIDTH,HEIGHT (screen pixels)")
    target.add_argument("--window", metavar="TITLE", help="capture the window whose title contains TITLE (X11)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--size", default="auto", help="inference size WIDTHxHEIGHT (multiples of 8), or auto (default): "
                      "the largest of a few sizes the backend runs within the fps cap")
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
    parser.add_argument("--threads", type=bounded_int(1, MAX_THREADS), default=None,
                        help=f"CPU threads for inference (default: half the cores, here {default_threads()})")
    parser.add_argument("--exit-after", type=finite_float(high=MAX_EXIT_AFTER_S, above=0), metavar="SECONDS",
                        help="quit after this many seconds")
    parser.add_argument("--stats", type=Path, metavar="PATH", help="write the run's numbers as JSON at exit")
    parser.add_argument("--no-hud", action="store_true", help="start with the HUD hidden (H toggles it)")
    parser.add_argument("--dump-last", type=Path, metavar="DIR", help="at exit, write the last shown frame "
                        "(shown.png) and the capture it was made from (captured.png) into DIR (for checks)")
    return parser


# ---------------------------------------------------------------------------------------------- models

@dataclass
class ModelChoice:
    weights: Path
    engine: Path | None = None
    why: str = ""
    built_size: tuple[int, int] | None = None  # an engine's input size, from its sidecar

    @property
    def label(self) -> str:
        if self.engine is not None:
            return self.engine.name
        if self.weights.resolve() == DEMO_MODEL:
            return "demo model"
        return f"{self.weights.parent.name}/{self.weights.name}"


def recorded_weights(engine: Path, sidecar: dict) -> str:
    weights = sidecar.get("weights")
    recorded = weights.get("path") if isinstance(weights, dict) else None
    if not isinstance(recorded, str) or not recorded:
        raise LivestyleError(f"{engine}: its sidecar does not name the weights it was built from; pass --model "
                             f"runs/<run>/{WEIGHTS_FILE} instead")
    return recorded


def engine_weights(engine: Path, sidecar: dict) -> Path:
    """The weights an engine was built from (the Stylizer needs them: model identity and fallback)."""
    recorded = recorded_weights(engine, sidecar)
    for candidate in (Path(recorded), engine.parent.parent / recorded, engine.parent / recorded):
        if candidate.is_file():
            return candidate
    raise LivestyleError(f"{engine} was built from {recorded}, which is not here; the engine needs its weights "
                         f"(for the model's identity and the torch-cpu fallback): pass --model with those weights")


def sidecar_size(sidecar: dict) -> tuple[int, int]:
    """An engine's input size from its sidecar, checked: [width, height], whole numbers 1..MAX_SIDE."""
    section = sidecar.get("input")
    size = section.get("size") if isinstance(section, dict) else None
    if not (isinstance(size, list) and len(size) == 2 and
            all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in size)):
        raise LivestyleError(f"field 'input.size' should be [width, height], whole numbers 1..{MAX_SIDE}, "
                             f"not {size!r}")
    return size[0], size[1]


def usable_engines(engines_dir: Path, machine, log=None) -> list[ModelChoice]:
    """Engines in engines_dir that can run here and whose weights exist, newest first. A sidecar that
    cannot be trusted (not JSON, not an object, fields of the wrong type) costs only its own engine:
    it is skipped, with a warning through `log`."""
    from .artifacts import SUFFIX, problems, read_sidecar
    from .backends import unavailable
    from .capture import first_line

    found = []
    for fmt, backend in (("tensorrt", "tensorrt"), ("onnx", "onnxruntime")):
        if not engines_dir.is_dir() or unavailable(backend, machine):
            continue
        for path in engines_dir.glob(f"*{SUFFIX[fmt]}.json"):
            artifact = path.with_name(path.name[: -len(".json")])
            try:
                sidecar = read_sidecar(artifact)
                if sidecar.get("format") != fmt:
                    continue
                recorded_weights(artifact, sidecar)
                size = sidecar_size(sidecar)
                # problems() reads more fields; in a file we did not write any of them may be of any
                # type, and a TypeError there is that file's fault, not a reason to stop choosing.
                refused = problems(sidecar, machine, artifact=artifact)
            except LivestyleError as error:
                if log is not None:
                    log(f"warning: skipping the engine {artifact.name}: {first_line(error)}")
                continue
            except (TypeError, AttributeError, ValueError, KeyError) as error:
                if log is not None:
                    log(f"warning: skipping the engine {artifact.name}: {path} has a field of the wrong type "
                        f"({type(error).__name__}: {first_line(error)}); rebuild it with "
                        f"python scripts/build_engine.py")
                continue
            if refused:
                continue
            try:  # its weights elsewhere, or the engine gone meanwhile: not usable here, nothing to warn about
                weights = engine_weights(artifact, sidecar)
                built = artifact.stat().st_mtime
            except (LivestyleError, OSError):
                continue
            found.append((built, ModelChoice(weights, artifact, f"newest engine in {engines_dir}/", size)))
    return [choice for _, choice in sorted(found, key=lambda item: item[0], reverse=True)]


def trained_runs(runs_dir: Path) -> list[ModelChoice]:
    found = sorted(runs_dir.glob(f"*/{WEIGHTS_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if runs_dir.is_dir() else []
    return [ModelChoice(path, None, f"newest trained run in {runs_dir}/") for path in found]


def model_candidates(engines_dir: Path, runs_dir: Path, machine, log=None) -> list[ModelChoice]:
    """Every model M cycles through: usable engines, trained runs, the demo model."""
    candidates = usable_engines(engines_dir, machine, log) + trained_runs(runs_dir)
    if DEMO_MODEL.is_file():
        candidates.append(ModelChoice(DEMO_MODEL, None, "the bundled demo model"))
    return candidates


def resolve_model(path: Path | None, engines_dir: Path, runs_dir: Path, machine, log=None) -> ModelChoice:
    if path is None:
        candidates = model_candidates(engines_dir, runs_dir, machine, log)
        if not candidates:
            raise LivestyleError(f"no model to run: no usable engine in {engines_dir}/, no {runs_dir}/*/{WEIGHTS_FILE}, "
                                 f"and the bundled demo model {DEMO_MODEL} is missing (reinstall livestyle). Train "
                                 f"one: python -m training.fit faces --quick, or pass --model PATH")
        return candidates[0]
    if not path.exists():
        raise LivestyleError(f"--model {path}: no such file or folder")
    if path.suffix in (".engine", ".onnx"):
        from .artifacts import read_sidecar

        return ModelChoice(engine_weights(path, read_sidecar(path)), path, "--model")
    if path.is_dir():
        if not (path / WEIGHTS_FILE).is_file():
            raise LivestyleError(f"--model {path} is a folder without {WEIGHTS_FILE}; pass a run folder or a file")
        return ModelChoice(path / WEIGHTS_FILE, None, "--model")
    return ModelChoice(path, None, "--model")


def open_stylizer(choice: ModelChoice, backend: str, size, threads: int, engines_dir: Path, log):
    from .stylizer import Stylizer

    return Stylizer(choice.weights, backend, size=size, engine=choice.engine, threads=threads,
                    engines_dir=engines_dir, log=log)


# ---------------------------------------------------------------------------------------------- sizes

def round8(value: float) -> int:
    return max(16, math.floor(value / 8 + 0.5) * 8)  # half up: 180 → 184, as the 16:9 sizes go


def candidate_sizes(capture: tuple[int, int], widths=AUTO_WIDTHS) -> list[tuple[int, int]]:
    """Largest first, the capture's aspect ratio, multiples of 8, never wider than the capture."""
    width, height = capture
    aspect = width / height
    sizes = []
    for candidate in widths:
        w = round8(min(candidate, width))
        h = round8(w / aspect)
        if (w, h) not in sizes:
            sizes.append((w, h))
    return sizes


def scaled_size(capture: tuple[int, int], scale: float) -> tuple[int, int]:
    return round8(capture[0] * scale), round8(capture[1] * scale)


def time_stylizer(stylizer, frame, budget_ms: float, runs: int = 5, seconds: float = 1.0) -> float:
    """Median ms per frame (capture-sized frame in → stylised out); stops early when clearly too slow."""
    began = time.perf_counter()
    stylizer(frame)  # warm-up
    first = (time.perf_counter() - began) * 1000
    if first > 4 * budget_ms and first > 250:
        return first
    times, started = [], time.perf_counter()
    while len(times) < runs and (len(times) < 2 or time.perf_counter() - started < seconds):
        began = time.perf_counter()
        stylizer(frame)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def choose_size(choice: ModelChoice, backend: str, capture: tuple[int, int], fps_cap: float, threads: int,
                engines_dir: Path, log):
    """--size auto: the largest candidate size whose measured ms/frame fits the fps cap's budget."""
    import numpy as np

    budget_ms = 1000.0 / fps_cap
    frame = np.random.default_rng(0).integers(0, 256, (capture[1], capture[0], 4), dtype=np.uint8)
    chosen, last_error = None, None
    for size in candidate_sizes(capture):
        try:
            stylizer = open_stylizer(choice, backend, size, threads, engines_dir, log)
        except LivestyleError as error:
            log(f"size auto: {size[0]}x{size[1]} skipped ({error})")
            last_error = error
            continue
        backend = stylizer.name  # auto chose at the largest size; the smaller sizes keep that backend
        ms = time_stylizer(stylizer, frame, budget_ms)
        log(f"size auto: {size[0]}x{size[1]} on {stylizer.name}: {ms:.1f} ms/frame "
            f"({'fits' if ms <= budget_ms else 'over'} the {budget_ms:.1f} ms budget of --fps-cap {fps_cap:g})")
        if chosen is not None:
            chosen[0].close()
        chosen = (stylizer, ms)
        if ms <= budget_ms:
            return stylizer
    if chosen is None:
        raise last_error or LivestyleError("size auto: no size could be opened")
    stylizer, ms = chosen
    log(f"size auto: even {stylizer.size[0]}x{stylizer.size[1]} takes {ms:.0f} ms on {stylizer.name}: expect about "
        f"{1000 / ms:.1f} fps (a GPU backend, or a smaller --size, is faster)")
    return stylizer


# ---------------------------------------------------------------------------------------------- platform

def exclude_from_capture(window, log) -> bool:
    """Keep our own window out of screen capture where the platform allows it; True when done."""
    system = platform.system()
    if system == "Windows":
        try:
            import ctypes

            WDA_EXCLUDEFROMCAPTURE = 0x11
            if ctypes.windll.user32.SetWindowDisplayAffinity(int(window.winId()), WDA_EXCLUDEFROMCAPTURE):
                return True
            log("warning: SetWindowDisplayAffinity(WDA_EXCLUDEFROMCAPTURE) failed (needs Windows 10 2004 or "
                "newer); keep the livestyle window off the captured area")
        except Exception as error:  # noqa: BLE001
            log(f"warning: could not exclude the window from capture ({error})")
        return False
    if system == "Darwin":
        try:
            import objc

            view = objc.objc_object(c_void_p=int(window.winId()))
            view.window().setSharingType_(0)  # NSWindowSharingNone
            return True
        except Exception as error:  # noqa: BLE001
            log(f"warning: cannot keep the window out of screen capture on macOS without pyobjc "
                f"(pip install pyobjc-framework-Cocoa): {error}; keep it off the captured area")
        return False
    return False  # X11: no way to exclude a window; the window warns when it overlaps the captured area


def can_exclude_from_capture() -> tuple[bool, str]:
    system = platform.system()
    if system == "Windows":
        return True, ""
    if system == "Darwin":
        try:
            import objc  # noqa: F401

            return True, ""
        except Exception:  # noqa: BLE001
            return False, "on macOS the overlay needs pyobjc to keep itself out of capture (pip install " \
                          "pyobjc-framework-Cocoa)"
    return False, ("on X11 a window cannot be kept out of screen capture, so an overlay over the captured area would "
                   "film itself (feedback). Use --mode mirror and put the livestyle window on another monitor")


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

DUMP_FILES = ("shown.png", "captured.png")


def make_folder(folder: Path) -> None:
    from .files import describe

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LivestyleError(describe(error, folder)) from None


def write_stats(path: Path, data: dict) -> None:
    from .files import write_json

    make_folder(path.parent)
    write_json(path, data)


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

def log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_arguments(args) -> None:
    """What argparse's types cannot check; the outputs can be written and stay apart from the model."""
    if args.size != "auto":
        from .model import parse_size

        parse_size(args.size, "--size")
    check_outputs(args)


def check_outputs(args, choice: ModelChoice | None = None) -> None:
    """Before the session: --stats and --dump-last can be written (a read-only or missing folder costs
    seconds, not the session's numbers at exit) and write over no model."""
    from .files import check_apart, check_writable

    if args.stats is not None:
        check_writable(args.stats, "--stats")
    if args.dump_last is not None:
        check_writable(args.dump_last, "--dump-last", folder=True)
        if args.stats is not None and args.stats.resolve() in [args.dump_last.resolve() / n for n in DUMP_FILES]:
            raise LivestyleError(f"--stats {args.stats}: --dump-last writes a picture there; give the numbers "
                                 f"another file name")
    models = [args.model] if choice is None else [choice.weights, choice.engine]
    check_apart({"--stats": args.stats, "--dump-last": args.dump_last},
                {"--model" if choice is None or choice.why == "--model" else "the model": models})


def display_name() -> str:
    return f"the display {os.environ['DISPLAY']!r}" if os.environ.get("DISPLAY") else "the display"


def main(argv=None) -> int:
    """`python -m livestyle [options]`; returns the exit status (0 ok, 1 failed mid-run, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse printed its message (or --help)
        return int(exit_.code or 0)
    try:
        return run(args)
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except OSError as error:  # one the checks before the session could not foresee (a disk failing mid-run)
        from .files import describe

        print(f"error: {describe(error, doing='livestyle failed on')}", file=sys.stderr, flush=True)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run(args, source_factory=None, capture_rect=None, engines_dir: Path = Path("engines"),
        runs_dir: Path = Path("runs"), log=log_stderr) -> int:
    """The app. `source_factory` (tests) replaces screen capture: a callable returning an object with grab()
    and close(), with `capture_rect` (physical pixels) as the area it stands for."""
    check_arguments(args)
    threads = args.threads or default_threads()
    from . import capture

    target = None
    if source_factory is None:
        problem = capture.display_problem()
        if problem:
            raise LivestyleError(problem)
        warning = capture.session_warning()
        if warning:
            log(f"warning: {warning}")
    try:
        from PySide6.QtCore import QCoreApplication, QTimer
        from PySide6.QtWidgets import QApplication
    except ImportError as error:
        raise LivestyleError(f"the live app needs PySide6 ({error}): pip install -e '.[gui]'") from None
    if source_factory is None:
        target = capture.resolve_target(monitor=args.monitor, region=args.region, window=args.window)
        capture_rect = target.rect
        log(f"livestyle: capturing {target.describe()}")
    capture_size = (capture_rect[2], capture_rect[3]) if capture_rect else (640, 360)

    import cv2
    import torch

    from .machine import probe

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    machine = probe()
    choice = resolve_model(args.model, engines_dir, runs_dir, machine, log)
    check_outputs(args, choice)
    log(f"livestyle: model {choice.label} ({choice.why})")

    app = QApplication.instance() or QApplication(sys.argv[:1])
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

    if choice.engine is not None:
        stylizer = open_stylizer(choice, args.backend, None, threads, engines_dir, log)
        if args.size != "auto" or args.scale is not None:
            log(f"livestyle: {choice.engine.name} runs at its built size {stylizer.size[0]}x{stylizer.size[1]}")
    elif args.scale is not None:
        size = scaled_size(capture_size, args.scale)
        if max(size) > MAX_SIDE:
            raise LivestyleError(f"--scale {args.scale:g} of the {capture_size[0]}x{capture_size[1]} capture is "
                                 f"{size[0]}x{size[1]}, over {MAX_SIDE} pixels a side; use a smaller --scale")
        stylizer = open_stylizer(choice, args.backend, size, threads, engines_dir, log)
    elif args.size != "auto":
        stylizer = open_stylizer(choice, args.backend, args.size, threads, engines_dir, log)
    else:
        stylizer = choose_size(choice, args.backend, capture_size, args.fps_cap, threads, engines_dir, log)
    for line in getattr(stylizer, "report", []) or []:
        log(f"  {line}")
    log(f"livestyle: {stylizer.describe()}, {threads} CPU thread{'s' if threads > 1 else ''}, "
        f"fps cap {args.fps_cap:g}, {mode} mode{f', stabilise {args.stabilize:g}' if args.stabilize else ''}")

    from .pipeline import Pipeline
    from .window import LiveWindow

    def fallback():
        """torch-cpu for the model and size that just failed (called on the inference thread)."""
        from .stylizer import Stylizer

        failing = pipeline.stylizer
        return Stylizer(getattr(failing, "model", None) or stylizer.model, "torch-cpu", size=failing.size,
                        threads=threads, log=log)

    if source_factory is None:
        source_factory = lambda: capture.ScreenSource(target)  # noqa: E731 — created in the capture thread
    stabilizer = None
    if args.stabilize > 0:
        from .stabilizer import LIVE_PRESET, Stabilizer

        stabilizer = Stabilizer(args.stabilize, preset=LIVE_PRESET)
    pipeline = Pipeline(source_factory, stylizer, fps_cap=args.fps_cap, fallback=fallback, stabilizer=stabilizer)

    current = {"choice": choice}

    def key_of(item: ModelChoice):
        return item.weights.resolve(), item.engine.resolve() if item.engine else None

    def switch_model():
        """The next model after the current one in model_candidates() (engines, runs, demo), opened at the
        current size (an engine at its own size); runs on a worker thread."""
        candidates = model_candidates(engines_dir, runs_dir, machine)  # its warnings were given at the start
        keys = [key_of(item) for item in candidates]
        now = key_of(current["choice"])
        position = keys.index(now) if now in keys else -1
        following = next((candidates[(position + step) % len(candidates)] for step in range(1, len(candidates) + 1)
                          if keys[(position + step) % len(candidates)] != now), None)
        if following is None:
            raise LivestyleError(f"no other model: add engines to {engines_dir}/ or train runs into {runs_dir}/")
        new = open_stylizer(following, args.backend, None if following.engine else pipeline.stylizer.size, threads,
                            engines_dir, log)
        current["choice"] = following
        return new, following.label

    hud = False if args.no_hud else setting_bool(settings, "hud", True)
    window = LiveWindow(pipeline, mode=mode, capture_rect=capture_rect, model_label=choice.label, settings=settings,
                        hud=hud, blend=setting_float(settings, "blend", 0.5), switch_model=switch_model, log=log)
    window.place(settings.value("geometry") if mode == "mirror" else None, stylizer.size)
    window.show()
    window.excluded = exclude_from_capture(window, log) if platform.system() != "Linux" else False
    if window.global_hotkeys is not None:
        log(window.global_hotkeys.note)
    if mode == "overlay":
        log("livestyle: the overlay is click-through; quit with the global hotkey Ctrl+Alt+Q, --exit-after, or "
            "Ctrl+C in this terminal")

    window.closed.connect(app.quit)
    if args.exit_after:
        QTimer.singleShot(int(args.exit_after * 1000), lambda: window.quit("exit-after"))
    def on_sigint(*_):
        QTimer.singleShot(0, lambda: window.quit("interrupted (Ctrl+C)"))

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: Ctrl+C stays Python's
        previous = None
    wake = QTimer()  # lets Python run its signal handler while Qt's loop is idle
    wake.timeout.connect(lambda: None)
    wake.start(200)

    started = time.perf_counter()
    outcome = {}  # the exit code, once finish() has run

    def display_lost() -> str:
        if window.exit_reason is None:
            window.exit_reason = "display lost"
        return (f"lost {display_name()} after {time.perf_counter() - started:.1f} s (the X server stopped or the "
                f"connection to it broke); start livestyle again once the desktop is back")

    def finish(lost: str | None) -> int:
        """Stop the threads, write the session's outputs, say how it ended; the exit code."""
        pipeline.stop()
        seconds = time.perf_counter() - started
        summary = pipeline.summary()
        error = pipeline.error or lost
        failures = []  # the session's outputs; one failing must not cost the other
        if args.dump_last is not None:
            try:
                dump_last(args.dump_last, window)
            except LivestyleError as failure:
                failures.append(f"--dump-last: {failure}")
        data = {
            "frames": summary["frames"], "dropped": summary["dropped"], "fps": summary["fps"],
            "inference_ms": summary["inference_ms"], "latency_ms": summary["latency_ms"],
            "backend": summary["backend"], "model": window.model_label,
            "model_path": str(current["choice"].engine or current["choice"].weights),
            "size": list(pipeline.stylizer.size), "capture": list(capture_rect) if capture_rect else None,
            "mode": mode, "fps_cap": args.fps_cap, "stabilize": args.stabilize, "threads": threads,
            "seconds": round(seconds, 3), "exit_reason": window.exit_reason, "error": error, "hud": window.hud,
            "blend": window.blend, "view": window.view, "warnings": window.warnings, "events": summary["events"],
        }
        if args.stats is not None:
            try:
                write_stats(args.stats, data)
            except LivestyleError as failure:
                failures.append(f"--stats: {failure}")
        log(summary_line(summary, seconds))
        if error and error not in window.warnings:  # the window logs (and keeps) the errors that reached it
            log(f"error: {error}")
        outcome["code"] = EXIT_BAD_INPUT if failures else EXIT_RUNTIME if error else window.exit_code
        if failures:
            raise LivestyleError("; ".join(failures))
        return outcome["code"]

    def last_words() -> int:
        """Xlib found the X server gone and ends the process after this: finish without touching Qt."""
        if "code" in outcome:
            return outcome["code"]
        try:
            return finish(display_lost())
        except LivestyleError as failure:
            log(f"error: {failure}")
            return outcome["code"]

    restore_x_handler = exit_on_lost_display(last_words)
    lost = None
    pipeline.start()
    try:
        if window.isVisible() and app.exec() != 0 and window.exit_reason is None:
            # Nothing of ours ends the loop with a non-zero code: Qt does when the connection to the
            # display breaks (the X server stopped). The session failed, and must not exit 0.
            lost = display_lost()
    finally:
        wake.stop()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if window.isVisible():
            window.close()
        pipeline.stop()
    code = finish(lost)
    if lost is None:  # a live display: Qt's own handler back; a dead one keeps ours for the teardown
        restore_x_handler()
    return code


def exit_on_lost_display(last_words):
    """When a call into Xlib finds the X server gone, Xlib's I/O error handler (Qt's, printing "The X11
    connection broke") ends the process with exit(1) from C, under running threads: the session's
    numbers are lost, and the exit itself can crash. Ours runs `last_words()` (no Qt in it: the
    outputs, one error line) and leaves with its exit code. Xlib allows no return, so this is the
    way out. Returns a function that puts the previous handler back; a no-op where there is no Xlib."""
    import ctypes

    try:
        from PySide6.QtGui import QGuiApplication

        if platform.system() != "Linux" or QGuiApplication.platformName() != "xcb":
            return lambda: None
        xlib = ctypes.CDLL("libX11.so.6")  # the one Qt's xcb plugin loaded: a handler is per process
    except (ImportError, OSError):
        return lambda: None
    handler_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

    def handler(display) -> int:
        code = EXIT_RUNTIME
        try:
            code = last_words() or EXIT_RUNTIME
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
    import cv2

    from .files import write_bytes

    make_folder(folder)
    styled = window.last_shown
    if styled is None or window.shown_array is None:
        return
    source = styled.source
    captured = cv2.cvtColor(source, cv2.COLOR_BGRA2BGR) if source.shape[2] == 4 else source
    for name, image in zip(DUMP_FILES, (window.shown_array, captured)):
        encoded, data = cv2.imencode(".png", image)
        if not encoded:
            raise LivestyleError(f"{folder / name}: OpenCV could not encode the frame as PNG")
        write_bytes(folder / name, data.tobytes())


if __name__ == "__main__":
    sys.exit(main())
