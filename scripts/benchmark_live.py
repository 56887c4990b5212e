"""The live app end to end, on a private X server: `python -m livestyle` as a subprocess capturing
moving content, per backend × inference size, with the numbers its --stats file records (shown fps,
inference and end-to-end latency, capture fps, drops), the CPU it takes, and the CPU the captured
program gets with and without it; plus a capture-only ceiling (mss grabbing the same area in a loop).

  python scripts/benchmark_live.py                                   # every available backend, 320x184 and 640x360
  python scripts/benchmark_live.py --game supertux --seconds 30      # capture SuperTux (played with xdotool)
  python scripts/benchmark_live.py --backends onnxruntime --sizes 320x184 --seconds 5 --no-write
  python scripts/benchmark_live.py --soak 600                        # one 10-minute run: memory over time
  python scripts/benchmark_live.py --faces-table --seconds 15        # faces mode: 0/1/4 faces, two sizes, two models

It starts Xvfb (1920x1080x24, a free display) and shows on it either a window of known moving
pictures (the test helper's: a colour cycling at 10 Hz beside a fixed pattern, 960x540 at 0,0,
captured with --region), or with --game supertux SuperTux 0.6 in a 960x540 window (software
renderer, no sound), captured with --window SuperTux, while arrow keys and jumps are held with
xdotool now and then so the picture moves. The app runs in mirror mode (its window lands beside
the captured area), with its defaults for --fps-cap and --threads unless given here.

CPU shares are CPU seconds per wall-clock second from /proc/PID/stat (utime + stime), in % of one
core: the app's, and the content's/game's with livestyle running and, measured just before each
run, without it. That is the honest proxy this script offers for what livestyle costs the game (reading
the game's own frame rate is not reliable here). --soak SECONDS instead makes one long run at the
first backend and size, sampling the app's resident memory (VmRSS) every few seconds, and reports it
at the end of the warm-up, at the end, its maximum and its least-squares slope.

--faces-table instead runs faces mode (`python -m livestyle --faces MODEL`, no frames model) on a
window of 0, 1 and 4 faces (scripts/devtools/face_scenes.py: the astronaut, swaying) at 640x360
and 1280x720, for the bundled faces demo model and a faces model of the report's size (the report's
generator, N=64, at 128x128: untrained weights, for speed only), and reports frames shown per second
with the detector's and the face crops' milliseconds apart (section benchmark_live-faces).

Results go to docs/benchmarks/ (sections benchmark_live and live-soak; the soak also draws
docs/images/live-soak-rss.png) unless --no-write. Any failure ends it with one message and exit 1
(2 for bad arguments); Xvfb and every process it started are stopped on the way out, Ctrl+C included.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from devtools.benchmark_doc import machine as machine_line
from devtools.benchmark_doc import page_output, scratch_folder, scratch_output, update_section
from devtools.xvfb import XVFB_PACKAGES, have_xvfb, start_content, start_xvfb, wait_for_window, x_env
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import write_image

REPO = Path(__file__).resolve().parents[1]

DEFAULT_SIZES = "320x184,640x360"
SCREEN = (1920, 1080)
FACES_SCREEN = (2600, 1500)  # room beside a 1280x720 capture for the mirror window (no feedback)
CONTENT_RECT = (0, 0, 960, 540)
CONTENT_TITLE = "livestyle-benchmark-content"
GAME = "/usr/games/supertux2"
GAME_LEVEL = "/usr/share/games/supertux2/levels/world1/welcome_antarctica.stl"
GAME_TITLE = "SuperTux"
DEMO_MODEL = REPO / "livestyle" / "assets" / "demo_game2movie.safetensors"
RSS_PNG = REPO / "docs" / "images" / "live-soak-rss.png"
APP_WINDOW = "^livestyle — "
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """One clear message; exit 1."""


class BadInput(BenchError):
    """Bad arguments or nothing to run; exit 2."""


# ---------------------------------------------------------------------------------------------- processes

class Children:
    """Every process this script starts; stop_all() ends the ones still running (terminate, then kill)."""

    def __init__(self):
        self.processes: list[subprocess.Popen] = []

    def add(self, process: subprocess.Popen) -> subprocess.Popen:
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def stop_all(self) -> None:
        for process in reversed(self.processes):  # the app and the content before the X server
            try:
                self.stop(process)
            except Exception:  # noqa: BLE001 — keep stopping the others
                pass


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (its threads included), in seconds; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class CpuMeter:
    """CPU share of one process between start() and stop(), in % of one core."""

    def __init__(self, pid: int):
        self.pid = pid
        self.began = self.cpu = None
        self.share: float | None = None

    def start(self) -> None:
        self.began, self.cpu = time.perf_counter(), cpu_seconds(self.pid)

    def stop(self) -> float | None:
        now, cpu = time.perf_counter(), cpu_seconds(self.pid)
        if self.cpu is not None and cpu is not None and now > self.began:
            self.share = 100 * (cpu - self.cpu) / (now - self.began)
        return self.share


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return "\n".join("    " + line for line in text[-lines:]) or "    (no output)"


def xdotool(display: str, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["xdotool", *args], env=x_env(display), capture_output=True, text=True, timeout=10,
                          check=check)


def find_window(display: str, title: str) -> int | None:
    found = xdotool(display, "search", "--onlyvisible", "--name", title)
    ids = [int(line) for line in found.stdout.split() if line.isdigit()]
    return ids[0] if ids else None


# ---------------------------------------------------------------------------------------------- scenes

class RegionScene:
    """A window at `rect`, shown by `process`, captured with --region."""

    process: subprocess.Popen
    rect: tuple[int, int, int, int]

    @property
    def pid(self) -> int:
        return self.process.pid

    def target_args(self) -> list[str]:
        return ["--region", ",".join(map(str, self.rect))]


class ContentScene(RegionScene):
    """scripts/devtools/xvfb.py's window of known moving pictures, captured by region."""

    name = "content window"

    def __init__(self, display: str, children: Children):
        self.display = display
        self.process = children.add(start_content(display, CONTENT_TITLE, CONTENT_RECT))
        self.rect = CONTENT_RECT

    def describe(self) -> str:
        return (f"a {self.rect[2]}x{self.rect[3]} window of moving pictures (scripts/devtools/xvfb.py: colour "
                f"cycling at 10 Hz beside a fixed pattern), captured with `--region {','.join(map(str, self.rect))}`")

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"the content window exited (status {self.process.returncode})")

    def stop(self) -> None:
        pass


class GameScene:
    """SuperTux in a 960x540 (or `size`) window at 0,0 (moved there with xdotool), played by a thread that holds
    arrow keys and jumps now and then; captured with --window SuperTux."""

    name = "SuperTux"

    def __init__(self, display: str, children: Children, log_path: Path, size: tuple[int, int] = (960, 540)):
        if not Path(GAME).is_file():
            raise BenchError(f"--game supertux: {GAME} is not installed (apt-get install supertux)")
        self.display, self.log_path = display, log_path
        self.log = open(log_path, "w")
        command = [GAME, "--renderer", "sdl", "--window", "--geometry", f"{size[0]}x{size[1]}", "--disable-sound",
                   "--disable-music", GAME_LEVEL]
        self.process = children.add(subprocess.Popen(command, env=x_env(display, SDL_AUDIODRIVER="dummy"),
                                                     stdout=self.log, stderr=subprocess.STDOUT,
                                                     stdin=subprocess.DEVNULL))
        deadline = time.time() + 60
        self.window = None
        while self.window is None and time.time() < deadline:
            self.check()
            self.window = find_window(display, GAME_TITLE)
            time.sleep(0.3)
        if self.window is None:
            raise BenchError(f"SuperTux's window did not appear within 60 s; its output:\n{tail(log_path)}")
        xdotool(display, "windowmove", "--sync", str(self.window), "0", "0")
        time.sleep(2.0)
        self.focus()
        xdotool(display, "key", "Return")  # past the level's title card
        time.sleep(1.5)
        self.rect = self.geometry()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="play", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def geometry(self) -> tuple[int, int, int, int]:
        box = window_geometry(self.display, self.window)
        if box is None:
            raise BenchError("cannot read SuperTux's window geometry (xdotool getwindowgeometry)")
        return box

    def focus(self) -> None:
        xdotool(self.display, "mousemove", "100", "100")
        xdotool(self.display, "windowfocus", str(self.window))

    def _play(self) -> None:
        """Right a bit longer than left (so Tux wanders, but not to the level's end), a jump in each."""
        moves = (("Right", 1.6), ("Left", 1.3))
        step = 0
        while not self._stop.is_set():
            key, hold = moves[step % len(moves)]
            step += 1
            try:
                self.focus()
                xdotool(self.display, "keydown", key)
                if self._stop.wait(hold / 2):
                    break
                xdotool(self.display, "key", "space")
                self._stop.wait(hold / 2)
                xdotool(self.display, "keyup", key)
            except (subprocess.SubprocessError, OSError):
                pass  # the X server is going away
            self._stop.wait(0.4)

    def target_args(self) -> list[str]:
        return ["--window", GAME_TITLE]

    def describe(self) -> str:
        return (f"SuperTux 0.6 (`{Path(GAME).name} --renderer sdl --window --geometry 960x540`, level "
                f"{Path(GAME_LEVEL).name}, no sound) in a {self.rect[2]}x{self.rect[3]} window, captured with "
                f"`--window {GAME_TITLE}`, played by xdotool (arrow keys held 1.3–1.6 s and a jump, in turn)")

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"SuperTux exited (status {self.process.returncode}) during the benchmark; its "
                             f"output:\n{tail(self.log_path)}")

    def stop(self) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()
            self._thread.join(5)


FACES_SCENE = ("a window of 0, 1 or 4 faces (scripts/devtools/face_scenes.py: the astronaut, 0.28 of the height, "
               "swaying) over a game-like picture, captured with `--region`")


class FacesScene(RegionScene):
    """scripts/devtools/face_scenes.py's window of `count` faces at `size`, captured by region."""

    name = "faces window"

    def __init__(self, display: str, children: Children, size: tuple[int, int], count: int):
        self.display, self.count, self.rect = display, count, (0, 0, *size)
        title = f"livestyle-benchmark-faces-{count}-{size[0]}"
        self.process = children.add(subprocess.Popen(
            [sys.executable, "-m", "devtools.face_scenes", "window", title, str(size[0]), str(size[1]),
             str(count)], env=x_env(display), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE))
        if wait_for_window(display, title) is None:
            self.process.kill()
            raise BenchError(f"the faces window did not appear: {self.process.stderr.read().decode()[-500:]}")
        time.sleep(0.5)

    def describe(self) -> str:
        return FACES_SCENE

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"the faces window exited (status {self.process.returncode})")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def report_size_faces_model(work: Path) -> Path:
    """The report's faces generator (plain, N=64) at 128x128 with untrained weights: for speed only."""
    import torch

    from livestyle.faces.crop import FACE_CROP
    from livestyle.model.generator import Generator
    from livestyle.model.weights import save_generator

    torch.manual_seed(0)
    path = work / "report-size-faces.safetensors"
    save_generator(Generator(64).eval(), path, "game2movie",
                   {"kind": "faces", "preset": "faces", "image_size": 128, "crop_rule": FACE_CROP.to_metadata(),
                    "note": "untrained: benchmark_live's stand-in for the report's faces model size"})
    return path


def faces_table(args, display: str, work: Path, seconds: float, backend: str) -> list[str]:
    """Faces mode: each model × capture size × face count; the table's lines."""
    models = [("faces demo model (N=16, 64x64)", REPO / "livestyle" / "assets" / "demo_faces_game2movie.safetensors"),
              ("report size (N=64, 128x128)", report_size_faces_model(work))]
    lines = ["| faces model | capture (shown) | faces | fps shown | inference ms (median) | detector ms | "
             "face crops ms | faces stylised (last frame) | livestyle CPU | warnings |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cells = [(m, s, c) for m in models for s in ((640, 360), (1280, 720)) for c in (0, 1, 4)]
    for index, ((label, model), size, count) in enumerate(cells, 1):
        say(f"[{index}/{len(cells)}] faces mode, {label}, {size[0]}x{size[1]}, {count} face(s), {seconds:g} s ...")
        scene = FacesScene(display, args.children, size, count)
        try:
            shot = args.screenshot if (index, size, count) == (3, (640, 360), 4) else None  # the demo, 4 faces
            data = run_app(display=display, scene=scene, model=model, backend=backend, size=f"{size[0]}x{size[1]}",
                           seconds=seconds, work=work, args=args, faces=True, screenshot=shot)
        finally:
            scene.stop()
        faces = data.get("faces") or {}
        say(f"  {data['fps']['display']:.1f} fps shown, inference {num(data['inference_ms']['median'], 0)} ms, "
            f"detector {num(faces.get('detector_ms'))} ms, face crops {num(faces.get('faces_ms'))} ms on "
            f"{data['backend']}")
        lines.append(f"| {label} | {size[0]}x{size[1]} | {count} | {data['fps']['display']:.1f} | "
                     f"{num(data['inference_ms']['median'])} | {num(faces.get('detector_ms'))} | "
                     f"{num(faces.get('faces_ms'))} | {faces.get('faces_stylised', '—')} | {pct(data['app_cpu'])} | "
                     f"{'; '.join(data.get('warnings') or []) or '—'} |")
    return lines


# ---------------------------------------------------------------------------------------------- measuring

def capture_ceiling(rect, seconds: float) -> dict:
    """mss grabbing `rect` in a loop, in this process (DISPLAY already set): frames a second."""
    from livestyle.live.capture import bgra_view, open_mss

    box = {"left": rect[0], "top": rect[1], "width": rect[2], "height": rect[3]}
    times = []
    samples = []  # a frame every half second: did the picture move?
    with open_mss() as sct:
        bgra_view(sct.grab(box))  # warm-up
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            started = time.perf_counter()
            frame = bgra_view(sct.grab(box))
            times.append((time.perf_counter() - started) * 1000)
            if started - began >= 0.5 * len(samples):
                samples.append(frame[::4, ::4, :3].astype("int16"))
        elapsed = time.perf_counter() - began
    changes = [float(abs(a - b).mean()) for a, b in zip(samples, samples[1:], strict=False)]
    change = statistics.median(changes) if changes else 0.0
    return {"fps": len(times) / elapsed, "ms_median": statistics.median(times), "frames": len(times),
            "size": f"{rect[2]}x{rect[3]}", "change": change}


def run_app(*, display: str, scene, model: Path, backend: str, size: str, seconds: float, work: Path,
            args, rss_every: float | None = None, progress=None, screenshot: Path | None = None,
            faces: bool = False) -> dict:
    """One `python -m livestyle` run; its --stats JSON plus CPU shares (and RSS samples when asked).
    faces: faces mode with `model` as the faces model (no frames model; `size` is then only a label)."""
    label = f"{backend}-{size}" + (f"-faces-{scene.count}-{model.stem}" if faces else "")
    stats_path, log_path = work / f"{label}.json", work / f"{label}.log"
    chosen = ["--faces", str(model)] if faces else ["--model", str(model), "--size", size]
    command = [sys.executable, "-m", "livestyle", *scene.target_args(), *chosen, "--backend", backend,
               "--mode", "mirror", "--exit-after", f"{seconds:g}", "--stats", str(stats_path)]
    if args.fps_cap is not None:
        command += ["--fps-cap", f"{args.fps_cap:g}"]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    if args.stabilize:
        command += ["--stabilize", f"{args.stabilize:g}"]
    # Faces runs change the capture's size: a window place remembered from a smaller one would overlap it.
    config = work / (f"config-{scene.rect[2]}x{scene.rect[3]}" if faces else "config")
    env = x_env(display, XDG_CONFIG_HOME=str(config), LIVESTYLE_CACHE_DIR=str(work / "cache"))
    scene.check()
    with open(log_path, "w") as log:
        process = args.children.add(subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    try:
        return watch_app(process, command, display, scene, backend, size, seconds, stats_path, log_path,
                         args.startup_timeout, rss_every, progress, screenshot)
    finally:
        args.children.stop(process)


def window_geometry(display: str, window: int) -> tuple[int, int, int, int] | None:
    out = xdotool(display, "getwindowgeometry", "--shell", str(window)).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        return tuple(int(values[key]) for key in ("X", "Y", "WIDTH", "HEIGHT"))
    except (KeyError, ValueError):
        return None


def take_screenshot(display: str, scene, path: Path) -> None:
    """The game's window and livestyle's as the Xvfb screen shows them, side by side (JPEG): each grabbed
    on its own, so the picture has no empty screen between them."""
    import cv2
    import numpy as np

    from livestyle.core.files import write_image
    from livestyle.live.capture import bgra_view, open_mss

    app = find_window(display, APP_WINDOW)
    boxes = [scene.geometry() if isinstance(scene, GameScene) else tuple(scene.rect),
             window_geometry(display, app) if app is not None else None]
    with open_mss() as sct:  # DISPLAY is the Xvfb's
        shots = [np.ascontiguousarray(bgra_view(sct.grab({"left": b[0], "top": b[1], "width": b[2], "height": b[3]}))
                                      [:, :, :3]) for b in boxes if b is not None]
    height = max(shot.shape[0] for shot in shots)
    gap = np.full((height, 16, 3), 255, np.uint8)
    parts = []
    for shot in shots:
        padded = np.full((height, shot.shape[1], 3), 255, np.uint8)
        padded[:shot.shape[0]] = shot
        parts += [padded, gap]
    write_image(path, np.hstack(parts[:-1]), (cv2.IMWRITE_JPEG_QUALITY, 88))


def watch_app(process, command, display, scene, backend, size, seconds, stats_path, log_path, startup_timeout,
              rss_every, progress, screenshot: Path | None = None) -> dict:
    what = f"{backend} at {size}"

    def failed(why: str) -> BenchError:
        return BenchError(f"{what}: {why}\n  command: {shlex.join(command)}\n  its output (last lines):\n"
                          f"{tail(log_path)}")

    launched = time.perf_counter()
    while find_window(display, APP_WINDOW) is None:  # the window shows as the pipeline starts
        if process.poll() is not None:
            raise failed(f"python -m livestyle exited with status {process.returncode} before its window appeared")
        if time.perf_counter() - launched > startup_timeout:
            raise failed(f"its window did not appear within {startup_timeout:g} s")
        time.sleep(0.25)
    started = time.perf_counter()
    startup_s = started - launched
    app_cpu, content_cpu = CpuMeter(process.pid), CpuMeter(scene.pid)
    settle = min(2.0, 0.2 * seconds)  # CPU is measured over the steady part of the run
    end = seconds - min(1.5, 0.2 * seconds)
    rss: list[tuple[float, float]] = []
    next_rss = 0.0
    next_progress = 30.0
    measuring = False
    while process.poll() is None:
        now = time.perf_counter() - started
        if not measuring and now >= settle and app_cpu.began is None:
            app_cpu.start()
            content_cpu.start()
            measuring = True
        if measuring and now >= end:
            app_cpu.stop()
            content_cpu.stop()
            measuring = False
        if rss_every is not None and next_rss <= now <= end:  # not while it shuts down
            value = rss_mib(process.pid)
            if value is not None:
                rss.append((now, value))
            while next_rss <= now:
                next_rss += rss_every
        if screenshot is not None and now >= seconds / 2:
            take_screenshot(display, scene, screenshot)
            screenshot = None
        if progress is not None and now >= next_progress:
            progress(now, rss[-1][1] if rss else None)
            next_progress += 30.0
        if now > seconds + 60:
            raise failed(f"still running {now - seconds:.0f} s after its --exit-after {seconds:g}")
        scene.check()
        time.sleep(0.1)
    if measuring:  # ended earlier than expected: the game's share still counts, the app's is gone
        content_cpu.stop()
    if process.returncode != 0:
        raise failed(f"python -m livestyle exited with status {process.returncode}")
    try:
        data = json.loads(stats_path.read_text())
    except (OSError, ValueError) as error:
        raise failed(f"no readable --stats file ({error})") from None
    if data.get("error"):
        raise failed(f"the run reported an error: {data['error']}")
    if data["frames"]["shown"] < 1:
        raise failed("no frame was shown")
    data.update(startup_s=startup_s, app_cpu=app_cpu.share, content_cpu=content_cpu.share, rss=rss,
                requested_backend=backend)
    return data


def content_share(scene, seconds: float) -> float | None:
    meter = CpuMeter(scene.pid)
    meter.start()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        scene.check()
        time.sleep(0.1)
    return meter.stop()


# ---------------------------------------------------------------------------------------------- tables

def num(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def pair(a, b, digits: int = 0) -> str:
    return f"{num(a, digits)} / {num(b, digits)}"


def pct(value) -> str:
    return "—" if value is None else f"{value:.0f}%"


def notes(data: dict) -> str:
    found = []
    if data["backend"] != data["requested_backend"]:
        found.append(f"ran on {data['backend']}")
    found += data.get("warnings") or []
    found += [event["message"] for event in data.get("events", []) if event.get("kind") == "warning"]
    return "; ".join(dict.fromkeys(found)).replace("|", "/")


def matrix_table(rows: list[dict], ceiling: dict) -> list[str]:
    table = ["| backend | size | shown fps | inference ms (median / p95) | latency ms (median / p95) | capture fps | "
             "dropped capture→inference / inference→display | frames shown | livestyle CPU | content CPU with / "
             "without livestyle | notes |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for data in rows:
        size = "x".join(map(str, data["size"]))
        table.append(f"| {data['requested_backend']} | {size} | {num(data['fps']['display'])} | "
                     f"{pair(data['inference_ms']['median'], data['inference_ms']['p95'])} | "
                     f"{pair(data['latency_ms']['median'], data['latency_ms']['p95'])} | "
                     f"{num(data['fps']['capture'])} | "
                     f"{data['dropped']['capture_to_inference']} / {data['dropped']['inference_to_display']} | "
                     f"{data['frames']['shown']} | {pct(data['app_cpu'])} | "
                     f"{pct(data['content_cpu'])} / {pct(data['content_cpu_without'])} | "
                     f"{notes(data)} |")
    table.append(f"| capture only (mss, in-process) | {ceiling['size']} (no inference) | — | — | — | "
                 f"{num(ceiling['fps'])} | — | — | — | — | {ceiling['ms_median']:.1f} ms per grab (median), "
                 f"{ceiling['frames']} grabs{'' if ceiling['change'] >= 0.1 else '; the picture did not move'} |")
    return table


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    xs, ys = [t for t, _ in points], [v for _, v in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / var


def soak_summary(data: dict, warmup: float) -> dict:
    rss = data["rss"]
    steady = [(t, v) for t, v in rss if t >= warmup] or rss[-1:]
    return {"start": steady[0] if steady else None, "end": rss[-1] if rss else None,
            "max": max(v for _, v in rss) if rss else None, "slope": slope_per_minute(steady),
            "samples": len(steady)}


def soak_table(data: dict, summary: dict, without: float | None) -> list[str]:
    start, end = summary["start"], summary["end"]
    rows = [
        ("backend, size", f"{data['requested_backend']}, {'x'.join(map(str, data['size']))}"
         + (f" (ran on {data['backend']})" if data["backend"] != data["requested_backend"] else "")),
        ("run", f"{data['seconds']:.0f} s, {data['frames']['shown']} frames shown"),
        ("shown fps", num(data["fps"]["display"])),
        ("inference ms (median / p95)", pair(data["inference_ms"]["median"], data["inference_ms"]["p95"])),
        ("latency ms (median / p95 / max)", f"{pair(data['latency_ms']['median'], data['latency_ms']['p95'])} / "
                                            f"{num(data['latency_ms'].get('max'), 0)}"),
        ("capture fps", num(data["fps"]["capture"])),
        ("dropped capture→inference / inference→display",
         f"{data['dropped']['capture_to_inference']} / {data['dropped']['inference_to_display']}"),
        ("RSS after warm-up", "—" if start is None else f"{start[1]:.1f} MiB (at {start[0]:.0f} s)"),
        ("RSS at the end", "—" if end is None else f"{end[1]:.1f} MiB (at {end[0]:.0f} s)"),
        ("RSS max", "—" if summary["max"] is None else f"{summary['max']:.1f} MiB"),
        ("RSS slope after warm-up (least squares)",
         "—" if summary["slope"] is None else f"{summary['slope']:+.3f} MiB/min ({summary['samples']} samples)"),
        ("livestyle CPU", pct(data["app_cpu"])),
        ("content CPU with / without livestyle", f"{pct(data['content_cpu'])} / {pct(without)}"),
    ]
    if notes(data):
        rows.append(("notes", notes(data)))
    return ["| measure | value |", "|---|---|", *[f"| {key} | {value} |" for key, value in rows]]


def nice_step(span: float, ticks: int = 5) -> float:
    """A round grid step (1, 2 or 5 × a power of ten) giving about `ticks` lines over `span`."""
    raw = max(span, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def draw_rss(points: list[tuple[float, float]], warmup: float, title: str, path: Path) -> None:
    """RSS over time as a small PNG, drawn with OpenCV (no plotting library needed)."""
    import cv2
    import numpy as np

    width, height, left, right, top, bottom = 720, 360, 70, 20, 40, 45
    image = np.full((height, width, 3), 255, np.uint8)
    ts, vs = [t for t, _ in points], [v for _, v in points]
    t1 = max(max(ts), 1e-6)
    low, high = min(vs), max(vs)
    pad = max((high - low) * 0.1, 1.0)
    low, high = low - pad, high + pad

    def xy(t, v):
        return (int(left + (width - left - right) * t / t1),
                int(height - bottom - (height - top - bottom) * (v - low) / (high - low)))

    font, grey, black = cv2.FONT_HERSHEY_SIMPLEX, (200, 200, 200), (0, 0, 0)
    step = nice_step(high - low)
    for v in np.arange(math.ceil(low / step) * step, high, step):
        y = xy(0, v)[1]
        cv2.line(image, (left, y), (width - right, y), grey, 1)
        cv2.putText(image, f"{v:.{max(0, -math.floor(math.log10(step)))}f}", (5, y + 4), font, 0.4, black, 1,
                    cv2.LINE_AA)
    step = nice_step(t1)
    for t in np.arange(0, t1 + 1e-9, step):
        x = xy(t, low)[0]
        cv2.line(image, (x, top), (x, height - bottom), grey, 1)
        cv2.putText(image, f"{t:g}", (x - 10, height - bottom + 16), font, 0.4, black, 1, cv2.LINE_AA)
    if 0 < warmup < t1:
        x = xy(warmup, low)[0]
        cv2.line(image, (x, top), (x, height - bottom), (0, 160, 255), 1)
        cv2.putText(image, "warm-up", (x + 3, top + 12), font, 0.4, (0, 120, 220), 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (width - right, height - bottom), black, 1)
    cv2.polylines(image, [np.array([xy(t, v) for t, v in points], np.int32)], False, (200, 80, 0), 2, cv2.LINE_AA)
    cv2.putText(image, title, (left, 25), font, 0.5, black, 1, cv2.LINE_AA)
    cv2.putText(image, "seconds", (width // 2 - 25, height - 10), font, 0.45, black, 1, cv2.LINE_AA)
    cv2.putText(image, "MiB", (5, top - 8), font, 0.45, black, 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, image)


# ---------------------------------------------------------------------------------------------- setup

def default_model() -> Path:
    if DEMO_MODEL.is_file():
        return DEMO_MODEL
    runs = sorted((REPO / "runs").glob("*/game2movie.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
    if runs:
        return runs[0]
    raise BadInput(f"no model: {DEMO_MODEL.relative_to(REPO)} is missing and there is no "
                   f"runs/*/game2movie.safetensors; pass --model PATH (weights, a run folder or an engine), e.g. "
                   f"--model runs/study/<run>/game2movie.safetensors")


def describe_model(path: Path, machine):
    """(label, parameter count, ModelChoice, Model) of the generator behind `path` (weights, run folder or engine)."""
    from livestyle.core.errors import LivestyleError
    from livestyle.model.generator import count_parameters
    from livestyle.model.loaded import load_model
    from livestyle.runtime.selection import resolve_model

    try:
        choice = resolve_model(path, REPO / "engines", REPO / "runs", machine)
        model = load_model(choice.weights)
    except LivestyleError as error:
        raise BadInput(f"--model {path}: {error}") from None
    try:
        shown = path.resolve().relative_to(REPO)
    except ValueError:
        shown = path
    return str(shown), count_parameters(model.module), choice, model


def choose_backends(text: str | None, machine, model=None) -> tuple[list[str], dict[str, str]]:
    """The backends to run (for this model: opencv runs film looks only) and, for the default list, those
    left out with why."""
    from livestyle.core.errors import LivestyleError
    from livestyle.runtime.backends import NAMES, unavailable

    if text is None:
        reasons = {name: unavailable(name, machine, model) for name in NAMES}
        chosen = [name for name, reason in reasons.items() if reason is None]
        return chosen, {name: reason for name, reason in reasons.items() if reason}
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    for name in chosen:
        try:
            reason = unavailable(name, machine, model)
        except LivestyleError as error:
            raise BadInput(f"--backends: {error}") from None
        if reason:
            raise BadInput(f"--backends: {name} cannot run on this machine ({reason})")
    if not chosen:
        raise BadInput("--backends: name at least one backend")
    return chosen, {}


def engine_missing(cell, model, machine, left_out: dict) -> bool:
    """tensorrt runs only with an engine built for these weights and size: without one, leave the cell out."""
    backend, size = cell
    if backend != "tensorrt":
        return False
    from livestyle.core.sizes import parse_size
    from livestyle.runtime.engines.sidecars import select_artifact

    path, _ = select_artifact(REPO / "engines", "tensorrt", machine, weights_sha256=model.sha256,
                              size=parse_size(size))
    if path is None:
        left_out[f"tensorrt at {size}"] = ("no engine built for this model at this size in engines/ "
                                           f"(python scripts/build_engine.py --size {size} --format tensorrt)")
    return path is None


def parse_sizes(text: str) -> list[str]:
    from livestyle.core.errors import LivestyleError
    from livestyle.core.sizes import format_size, parse_size

    try:
        return [format_size(parse_size(item, "--sizes")) for item in text.split(",") if item.strip()]
    except LivestyleError as error:
        raise BadInput(str(error)) from None


def shown_command(argv: list[str]) -> str:
    shown = list(argv)
    for flag, takes in (("--note", 1), ("--no-write", 0)):
        while flag in shown:
            index = shown.index(flag)
            del shown[index: index + 1 + takes]
    return shlex.join(["python", "scripts/benchmark_live.py", *shown])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="weights, run folder or engine (default: the bundled demo model, "
                        "else the newest runs/*/game2movie.safetensors)")
    parser.add_argument("--backends", help="comma list (default: every backend whose availability check passes here)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma list of WIDTHxHEIGHT, multiples of 8 "
                        f"(default {DEFAULT_SIZES})")
    parser.add_argument("--seconds", type=float, default=20.0, help="--exit-after per run (default 20)")
    parser.add_argument("--game", choices=("content", "supertux"), default="content",
                        help="what to capture: the test content window (default) or SuperTux")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="instead of the table: one run this long at "
                        "the first backend and size, sampling the app's memory")
    parser.add_argument("--soak-warmup", type=float, default=10.0,
                        help="seconds before the soak's starting RSS (default 10; at most half the soak)")
    parser.add_argument("--rss-every", type=float,
                        help="seconds between RSS samples (default: 5, more often for short soaks)")
    parser.add_argument("--capture-seconds", type=float, default=3.0,
                        help="length of the capture-only loop (default 3, at most --seconds)")
    parser.add_argument("--baseline-seconds", type=float, default=5.0,
                        help="how long the content's CPU is measured without livestyle (default 5, at most --seconds)")
    parser.add_argument("--fps-cap", type=float, help="passed to the app (default: the app's own, 30)")
    parser.add_argument("--threads", type=int, help="passed to the app (default: the app's own, half the cores)")
    parser.add_argument("--stabilize", type=float, default=0.0, help="passed to the app (default 0: off)")
    parser.add_argument("--section", help="docs/benchmarks/ section to write (default benchmark_live, or live-soak "
                        "with --soak)")
    parser.add_argument("--startup-timeout", type=float, default=180.0,
                        help="seconds the app may take to show its window (default 180)")
    parser.add_argument("--note", default="", help="a sentence added to the section (e.g. other load on the machine)")
    parser.add_argument("--screenshot", type=Path, help="a JPEG of the game's window and livestyle's, taken half-way "
                        "through the first run (e.g. docs/images/live-supertux.jpg); with --faces-table, of the demo's "
                        "4-face run at 640x360")
    parser.add_argument("--faces-table", action="store_true", help="instead of the table: faces mode with 0, 1 and 4 "
                        "faces at 640x360 and 1280x720, the faces demo model and a report-size one (section "
                        "benchmark_live-faces)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks/ alone")
    return parser


def declare(args) -> Declaration:
    """It reads --model; each app run's --stats, log, settings and backend cache, and the report-size faces
    model, go to a scratch folder (removed at the end); --screenshot (replaced: the picture is the script's
    own), and unless --no-write its section of the benchmark pages and, with --soak, the RSS plot."""
    outputs = [scratch_output()]
    if args.screenshot is not None:
        outputs.append(Output("--screenshot", args.screenshot, owned=True))
    if not args.no_write:
        default = ("benchmark_live-faces" if args.faces_table else "live-soak" if args.soak is not None
                   else "benchmark_live")
        outputs.append(page_output(args.section or default))
        if args.soak is not None and not args.faces_table:
            outputs.append(Output("the soak's RSS plot", RSS_PNG, owned=True))
    return Declaration("benchmark_live", {"--model": args.model}, tuple(outputs))


# ---------------------------------------------------------------------------------------------- main

def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_numbers(args) -> None:
    """Raise BadInput for a --seconds, --soak, --fps-cap or --threads out of range."""
    if args.seconds <= 0 or (args.soak is not None and args.soak <= 0):
        raise BadInput("--seconds and --soak take a positive number of seconds")
    if args.fps_cap is not None and not args.fps_cap > 0:
        raise BadInput(f"--fps-cap {args.fps_cap:g}: give a positive number of frames a second")
    if args.threads is not None and args.threads < 1:
        raise BadInput(f"--threads {args.threads}: at least 1")


def benchmark(args, argv: list[str]) -> int:
    from livestyle.runtime.machine import probe

    check_numbers(args)
    declare(args).check()
    machine = probe()
    if args.faces_table:
        return faces_benchmark(args, argv)
    model = args.model if args.model is not None else default_model()
    model_label, parameters, choice, loaded = describe_model(model, machine)
    backends, left_out = choose_backends(args.backends, machine, loaded)
    sizes = parse_sizes(args.sizes)
    cells = [(backend, size) for size in sizes for backend in backends]
    if args.backends is None and choice.engine is None:  # the default list: tensorrt only where an engine exists
        cells = [cell for cell in cells if not engine_missing(cell, loaded, machine, left_out)]
    if not cells:
        raise BadInput("nothing to run: " + "; ".join(f"{name}: {why}" for name, why in left_out.items()))
    if not have_xvfb():
        raise BenchError(f"Xvfb or xdotool is missing (on Debian/Ubuntu: apt-get install {XVFB_PACKAGES})")
    if args.soak is not None:
        cells = cells[:1]
        seconds = args.soak
    else:
        seconds = args.seconds
    say(f"model {model_label} ({parameters:,} parameters); "
        f"{'soak' if args.soak else 'runs'}: {', '.join(f'{b} at {s}' for b, s in cells)}, {seconds:g} s"
        f"{'' if args.soak else ' each'}")
    result, without, scene_text = run_on_display(args, model, cells, seconds)
    head = section_head(args, argv, model_label, parameters, scene_text, seconds, left_out)
    if result[0] == "matrix":
        _, rows, ceiling = result
        return report_matrix(args, head, rows, ceiling, seconds)
    return report_soak(args, head, result, without, seconds)


def run_on_display(args, model: Path, cells: list[tuple[str, str]], seconds: float) -> tuple[tuple, float | None, str]:
    """Xvfb and the scene, the runs (the table's, or the soak) on them, then all stopped: (the runs' result, the
    scene's CPU share measured alone before the soak (None for the table), the scene's description)."""
    without = None
    with scratch_folder("benchmark_live-") as work:
        display = start_display(args, SCREEN)
        say(f"Xvfb on {display} ({SCREEN[0]}x{SCREEN[1]}x24); starting "
            f"{'SuperTux' if args.game == 'supertux' else 'the content window'}")
        scene = None
        try:
            try:
                scene = (GameScene(display, args.children, work / "supertux.log") if args.game == "supertux"
                         else ContentScene(display, args.children))
            except RuntimeError as error:  # start_content's own failure
                raise BenchError(str(error)) from None
            baseline_s = min(args.baseline_seconds, seconds)

            def alone() -> float | None:
                share = content_share(scene, baseline_s)
                say(f"  {scene.name} alone: {pct(share)} of a core over {baseline_s:g} s")
                return share

            if args.soak is not None:
                without = alone()
                result = soak(args, display, scene, model, cells[0], work)
            else:
                result = run_matrix(args, display, scene, model, cells, seconds, work, alone)
            scene_text = scene.describe()
        finally:
            if scene is not None:
                scene.stop()
            args.children.stop_all()
    return result, without, scene_text


def run_matrix(args, display: str, scene, model: Path, cells: list[tuple[str, str]], seconds: float, work: Path,
               alone) -> tuple:
    """The capture-only ceiling, then one app run per cell, each after `alone()` measured the scene without it:
    ("matrix", the runs' data, the ceiling)."""
    ceiling = capture_ceiling(scene.geometry() if isinstance(scene, GameScene) else scene.rect,
                              min(args.capture_seconds, seconds))
    say(f"capture only: {ceiling['fps']:.1f} grabs/s of {ceiling['size']}; the picture changed by "
        f"{ceiling['change']:.1f} grey levels per half second (mean absolute difference, median)")
    if ceiling["change"] < 0.1:
        say(f"warning: the {scene.name} did not move during the capture-only loop")
    rows = []
    for index, (backend, size) in enumerate(cells, 1):
        say(f"[{index}/{len(cells)}] {backend} at {size}, {seconds:g} s ...")
        without = alone()
        data = run_app(display=display, scene=scene, model=model, backend=backend, size=size,
                       seconds=seconds, work=work, args=args,
                       screenshot=args.screenshot if index == 1 else None)
        data["content_cpu_without"] = without
        rows.append(data)
        say(f"  {data['fps']['display']:.1f} fps shown, inference {num(data['inference_ms']['median'], 0)}"
            f" ms, latency {num(data['latency_ms']['median'], 0)} ms, livestyle CPU {pct(data['app_cpu'])}"
            f", {scene.name} CPU {pct(data['content_cpu'])} (started in {data['startup_s']:.1f} s)")
    return "matrix", rows, ceiling


def section_head(args, argv: list[str], model_label: str, parameters: int, scene_text: str, seconds: float,
                 left_out: dict[str, str]) -> str:
    """The paragraph opening the section: the command, the machine, the model, the scene and how it is measured."""
    command = shown_command(argv)
    head = (f"`{command}` — {machine_line()}. Model `{model_label}` ({parameters:,} parameters). Xvfb "
            f"{SCREEN[0]}x{SCREEN[1]}x24 showing {scene_text}. Each run is `python -m livestyle ... --backend B "
            f"--size S --mode mirror --exit-after {seconds:g} --stats PATH`")
    extra = [f"--fps-cap {args.fps_cap:g}"] if args.fps_cap is not None else []
    extra += [f"--threads {args.threads}"] if args.threads is not None else []
    extra += [f"--stabilize {args.stabilize:g}"] if args.stabilize else []
    head += (f" {' '.join(extra)}" if extra else "") + (
             ", HUD on; the numbers are its --stats file's, over the whole run. CPU columns: CPU seconds per second "
             "from /proc/PID/stat (utime + stime, all threads), in % of one core, over the steady part of each run; "
             "the content/game CPU share with and without livestyle is a proxy for what livestyle costs the "
             "game, not the game's own frame rate. The share without livestyle was measured for "
             f"{min(args.baseline_seconds, seconds):g} s just before each run (paired, as other load on the "
             "machine can change between runs).")
    if left_out:
        head += " Not measured (unavailable here): " + "; ".join(f"{name} ({why})" for name, why in left_out.items())
        head += "."
    return head


def report_matrix(args, head: str, rows: list[dict], ceiling: dict, seconds: float) -> int:
    """Print the table of the runs and, unless --no-write, write its section; the exit code."""
    threads = sorted({data["threads"] for data in rows})
    caps = sorted({data["fps_cap"] for data in rows})
    head += (f" App settings: {', '.join(map(str, threads))} CPU thread(s) for inference, fps cap "
             f"{', '.join(f'{c:g}' for c in caps)}. *Capture only*: mss grabbing the same area in a loop in "
             f"one process for {min(args.capture_seconds, seconds):g} s — the ceiling capture alone allows.")
    table = matrix_table(rows, ceiling)
    print("\n" + "\n".join(table), flush=True)
    if args.no_write:
        return 0
    title = "The live app end to end" + (f", with --stabilize {args.stabilize:g}" if args.stabilize else "") + (
        f" — {args.section}" if args.section else "")  # sections of several runs keep headings apart
    lines = [f"## {title} (`scripts/benchmark_live.py`)", "", head]
    if args.note:
        lines += ["", args.note]
    lines += ["", *table]
    say(f"wrote {update_section(args.section or 'benchmark_live', chr(10).join(lines))}")
    return 0


def report_soak(args, head: str, result: tuple, without: float | None, seconds: float) -> int:
    """Print the soak's table and, unless --no-write, draw its RSS plot and write its section; the exit code."""
    _, data, summary, warmup, every = result
    table = soak_table(data, summary, without)
    print("\n" + "\n".join(table), flush=True)
    if args.no_write:
        return 0
    title = f"livestyle RSS, {data['requested_backend']} at {'x'.join(map(str, data['size']))}, {seconds:g} s"
    draw_rss(data["rss"], warmup, title, RSS_PNG)
    lines = ["## Memory over a long live run (`scripts/benchmark_live.py --soak`)", "",
             head + f" RSS: VmRSS from /proc/PID/status every {every:g} s from the moment the window showed until just "
             f"before it quit (the end value is the last of these); the "
             f"starting value is the first sample at or after {warmup:g} s (warm-up), the slope a least-squares "
             f"line through the samples after it."]
    if args.note:
        lines += ["", args.note]
    lines += ["", *table, "", f"![RSS over time](../images/{RSS_PNG.name})"]
    say(f"wrote {update_section(args.section or 'live-soak', chr(10).join(lines))} and {RSS_PNG}")
    return 0


def start_display(args, screen: tuple[int, int]) -> str:
    """Xvfb of `screen` size, stopped with the other children; this process's DISPLAY (the in-process
    capture loop, --screenshot's grab)."""
    try:
        xvfb, display = start_xvfb(*screen)
    except (RuntimeError, OSError) as error:
        raise BenchError(f"Xvfb did not start ({error})") from None
    args.children.add(xvfb)
    os.environ["DISPLAY"] = display
    os.environ.pop("WAYLAND_DISPLAY", None)
    return display


def faces_benchmark(args, argv: list[str]) -> int:
    if not have_xvfb():
        raise BenchError(f"Xvfb or xdotool is missing (on Debian/Ubuntu: apt-get install {XVFB_PACKAGES})")
    backend = (args.backends or "auto").split(",")[0]
    with scratch_folder("benchmark_live-faces-") as work:
        display = start_display(args, FACES_SCREEN)
        try:
            table = faces_table(args, display, work, args.seconds, backend)
        finally:
            args.children.stop_all()
    print("\n" + "\n".join(table), flush=True)
    if args.no_write:
        return 0
    extra = [f"--fps-cap {args.fps_cap:g}"] if args.fps_cap is not None else []
    extra += [f"--threads {args.threads}"] if args.threads is not None else []
    lines = ["## Faces mode, live (`scripts/benchmark_live.py --faces-table`)", "",
             f"`{shown_command(argv)}` — {machine_line()}. Xvfb {FACES_SCREEN[0]}x{FACES_SCREEN[1]}x24 showing "
             f"{FACES_SCENE}"
             f". Each run is `python -m livestyle --faces MODEL --backend {backend} --region 0,0,W,H --mode mirror "
             f"--exit-after {args.seconds:g} --stats PATH`{' ' + ' '.join(extra) if extra else ''} (no frames model: "
             "the picture is the capture with its faces stylised, shown at capture size). The numbers are its --stats "
             "file's: fps shown and inference (the whole per-frame step: base picture, crops, pasting) over the run; "
             "detector and face-crop ms are medians of the last 60; livestyle CPU in % of one core (/proc, steady "
             "part). The detector runs on its own thread, at most 15 times a second."]
    if args.note:
        lines += ["", args.note]
    lines += ["", *table]
    say(f"wrote {update_section(args.section or 'benchmark_live-faces', chr(10).join(lines))}")
    return 0


def soak(args, display, scene, model, cell, work):
    backend, size = cell
    seconds = args.soak
    warmup = min(args.soak_warmup, seconds / 2)
    every = args.rss_every or max(0.5, min(5.0, seconds / 20))
    say(f"soak: {backend} at {size} for {seconds:g} s, RSS every {every:g} s")

    def progress(now, rss):
        say(f"  {now:.0f} s / {seconds:g} s, RSS {num(rss)} MiB")

    data = run_app(display=display, scene=scene, model=model, backend=backend, size=size, seconds=seconds,
                   work=work, args=args, rss_every=every, progress=progress)
    if not data["rss"]:
        raise BenchError("soak: no RSS sample could be read from /proc")
    summary = soak_summary(data, warmup)
    return "soak", data, summary, warmup, every


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.children = Children()

    def on_term(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        return benchmark(args, argv)
    except (BadInput, LivestyleError) as error:  # bad arguments, or an output that cannot be written
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; stopped Xvfb and the processes it ran", file=sys.stderr)
        return 130
    finally:
        args.children.stop_all()
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
