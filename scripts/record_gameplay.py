"""Record the gameplay clips behind the real-footage oracles (a maintainer's tool: users build
oracles from the clips committed in training/recordings/, with no game installed).

  apt-get install supertux neverball xvfb xdotool        # Debian/Ubuntu; Neverball uses Mesa's llvmpipe
  python scripts/record_gameplay.py --all                 # every clip of the committed set (~4 min)
  python scripts/record_gameplay.py supertux --level world2/forest_intro --seconds 20 --out clip.mp4

Each game runs on its own Xvfb screen of 640×360 in a throw-away HOME (your settings are never
touched), is played by a script (xdotool key and mouse events with a seeded random rhythm: SuperTux
runs right and jumps, Neverball tilts the floor and clicks through the intro and any fall), and is
grabbed with mss at 10 frames a second after a warm-up that skips loading and title screens. The
clip is H.264 (libx264, yuv420p, CRF per game) written through a temporary file and os.replace.
Timing under a loaded CPU changes what the scripted player does, so two recordings differ: the
committed clips, with their sha256 in recordings.json, are the reproducible source.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np

from devtools.benchmark_doc import scratch_folder, scratch_output
from devtools.xvfb import start_xvfb, x_env
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import atomic_path, write_text

REPO = Path(__file__).resolve().parents[1]
RECORDINGS = REPO / "training" / "recordings"
SIZE = (640, 360)
FPS = 10
SUPERTUX_LEVELS = Path("/usr/share/games/supertux2/levels")
NEVERBALL_DATA = Path("/usr/share/games/neverball")
# (game, level, seconds, seed). Order matters: training.oracle's --movie other-levels gives the
# 1st, 3rd, 5th level of a game to the game domain and the others to the movie domain, so each
# side gets a spread of looks (SuperTux: ice, forest, dark forest / ice, forest, cave).
CLIPS = [
    ("supertux", "world1/welcome_antarctica", 20, 0),
    ("supertux", "world1/frosted_fields", 20, 1),
    ("supertux", "world2/forest_intro", 20, 2),
    ("supertux", "world2/beside_bushes", 20, 3),
    ("supertux", "world2/darkness_awaits", 20, 4),
    ("supertux", "world1/crystal_mine", 20, 5),
    ("neverball", "map-easy/bumper", 15, 0),
    ("neverball", "map-easy/coins", 15, 1),
    ("neverball", "map-easy/corners", 15, 2),
    ("neverball", "map-fwp/mountains", 15, 3),
    ("neverball", "map-medium/drops", 15, 4),
    ("neverball", "map-fwp/inferno", 15, 5),
]
CRF = {"supertux": 26, "neverball": 31}  # 3D footage moves every pixel: a higher CRF keeps it small
RETRY_BUTTON = ("362", "212")  # where Neverball 1.6 draws "Retry Level" on its fall-out screen at 640×360
WARMUP = {"supertux": 4.0, "neverball": 3.0}


def xdotool(env: dict, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=False, capture_output=True)


def play_supertux(env: dict, stop: threading.Event, rng: random.Random) -> None:
    time.sleep(1.0)
    xdotool(env, "key", "Return")
    xdotool(env, "keydown", "Right")
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.15:  # a step back now and then, so the camera also scrolls left
            xdotool(env, "keyup", "Right")
            xdotool(env, "keydown", "Left")
            time.sleep(rng.uniform(0.4, 1.0))
            xdotool(env, "keyup", "Left")
            xdotool(env, "keydown", "Right")
        elif roll < 0.8:
            xdotool(env, "keydown", "space")
            time.sleep(rng.uniform(0.1, 0.5))
            xdotool(env, "keyup", "space")
        time.sleep(rng.uniform(0.3, 0.9))
    xdotool(env, "keyup", "Right")


def play_neverball(env: dict, stop: threading.Event, rng: random.Random) -> None:
    time.sleep(0.5)
    xdotool(env, "mousemove", str(SIZE[0] // 2), str(SIZE[1] // 2))
    xdotool(env, "click", "1")  # past the level's title card
    last_click = time.monotonic()
    while not stop.is_set():
        # Short, mostly forward tilts: the ball rolls and the camera follows without falling off at once.
        key = rng.choice(["Up", "Up", "Left", "Right", "Down"])
        xdotool(env, "keydown", key)
        time.sleep(rng.uniform(0.15, 0.6))
        xdotool(env, "keyup", key)
        if rng.random() < 0.3:
            xdotool(env, "mousemove_relative", "--", str(rng.randint(-40, 40)), str(rng.randint(-20, 20)))
        time.sleep(rng.uniform(0.1, 0.4))
        if time.monotonic() - last_click > 3:  # after a fall: the "Retry Level" button, then the title card
            xdotool(env, "mousemove", *RETRY_BUTTON)
            xdotool(env, "click", "1")
            time.sleep(0.3)
            xdotool(env, "click", "1")
            last_click = time.monotonic()


def game_command(game: str, level: str, home: str) -> list[str]:
    if game == "supertux":
        path = SUPERTUX_LEVELS / f"{level}.stl"
        if not path.is_file():
            raise SystemExit(f"error: {path} not found: apt-get install supertux, or pick a level under "
                             f"{SUPERTUX_LEVELS}")
        return ["/usr/games/supertux2", "--renderer", "sdl", "--window", "--geometry", f"{SIZE[0]}x{SIZE[1]}",
                "--disable-sound", "--disable-music", str(path)]
    if not (NEVERBALL_DATA / f"{level}.sol").is_file():
        raise SystemExit(f"error: {NEVERBALL_DATA / level}.sol not found: apt-get install neverball, or pick a "
                         f"level under {NEVERBALL_DATA}")
    config = Path(home) / ".neverball"
    config.mkdir()
    (config / "neverballrc").write_text(f"fullscreen 0\nwidth {SIZE[0]}\nheight {SIZE[1]}\nsound_volume 0\n"
                                        f"music_volume 0\nmouse_sense 150\n")
    return ["/usr/games/neverball", "--level", f"{level}.sol"]


def grab(display: str, seconds: float, warmup: float) -> list[np.ndarray]:
    """RGB frames of the whole screen at FPS, the warm-up dropped."""
    import mss

    frames = []
    with mss.MSS(display=display) as screen:
        start = time.perf_counter()
        for index in range(int((seconds + warmup) * FPS)):
            time.sleep(max(0.0, start + index / FPS - time.perf_counter()))
            shot = np.asarray(screen.grab(screen.monitors[1]))
            if index >= warmup * FPS:
                frames.append(np.ascontiguousarray(shot[..., 2::-1]))
    return frames


def record(game: str, level: str, seconds: float, seed: int, out: Path) -> list[np.ndarray]:
    xvfb, display = start_xvfb(*SIZE)
    with scratch_folder("livestyle-record-") as home_folder:  # the game's throw-away HOME, removed afterwards
        home = str(home_folder)
        env = x_env(display, HOME=home, XDG_DATA_HOME=f"{home}/.local/share", XDG_CONFIG_HOME=f"{home}/.config",
                    SDL_AUDIODRIVER="dummy")
        process = subprocess.Popen(game_command(game, level, home), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        stop = threading.Event()
        player = threading.Thread(target=play_supertux if game == "supertux" else play_neverball,
                                  args=(env, stop, random.Random(seed)))
        try:
            time.sleep(3.0)  # the window appears
            player.start()
            frames = grab(display, seconds, WARMUP[game])
        finally:
            stop.set()
            if player.is_alive():
                player.join()
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()  # gone before its HOME is removed
            xvfb.terminate()
    encode(frames, out, CRF[game])
    return frames


def encode(frames: list[np.ndarray], out: Path, crf: int) -> None:
    import av

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary, av.open(str(temporary), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryslow"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def describe(frames: list[np.ndarray], out: Path) -> dict:
    return {"frames": len(frames), "kilobytes": out.stat().st_size // 1024,
            "moving_pairs": round(describe_changes(frames), 3)}


def package_versions() -> dict:
    versions = {}
    for package in ("supertux", "supertux-data", "neverball", "neverball-data"):
        found = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
        versions[package] = found.stdout.strip() or "not installed"
    return versions


def playable(frames: list[np.ndarray]) -> bool:
    """Not a failed start: SuperTux now and then shows only black (it started rendering late)."""
    dark = np.mean([frame.mean() < 15 for frame in frames])
    return dark < 0.5 and describe_changes(frames) > 0.2


def describe_changes(frames: list[np.ndarray]) -> float:
    changes = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(frames, frames[1:], strict=False)]
    return float(np.mean(np.array(changes) > 1.0))


def clip_path(game: str, level: str) -> Path:
    return RECORDINGS / game / f"{level.split('/')[-1]}.mp4"


def record_all(only: list[str] | None = None, attempts: int = 3) -> int:
    listing_path = RECORDINGS / "recordings.json"
    kept = {}
    if only and listing_path.is_file():
        kept = {entry["level_file"]: entry for entry in json.loads(listing_path.read_text())["clips"]}
    entries = []
    for game, level, seconds, seed in CLIPS:
        if only and level not in only and level in kept:
            entries.append(kept[level])
            continue
        out = clip_path(game, level)
        for attempt in range(attempts):
            frames = record(game, level, seconds, seed + 100 * attempt, out)
            if playable(frames):
                break
            print(f"{game:10s} {level:28s} black or frozen: recording again", flush=True)
        else:
            raise SystemExit(f"error: {game} {level} gave no playable clip in {attempts} attempts")
        info = describe(frames, out)
        print(f"{game:10s} {level:28s} {info}", flush=True)
        entries.append({"game": game, "level": level.split("/")[-1], "level_file": level, "file": f"{game}/{out.name}",
                        "frames": info["frames"], "width": SIZE[0], "height": SIZE[1], "fps": FPS,
                        "sha256": hashlib.sha256(out.read_bytes()).hexdigest()})
    listing = {"recorded": str(date.today()), "packages": package_versions(),
               "command": "python scripts/record_gameplay.py --all", "clips": entries}
    write_text(listing_path, json.dumps(listing, indent=2) + "\n")
    print(f"wrote {listing_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("game", nargs="?", choices=["supertux", "neverball"])
    parser.add_argument("--level", help="e.g. world1/welcome_antarctica (SuperTux) or map-easy/bumper (Neverball)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length after the warm-up (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scripted player's rhythm")
    parser.add_argument("--out", type=Path, help="the .mp4 to write")
    parser.add_argument("--all", action="store_true", help="record the committed set into training/recordings")
    parser.add_argument("--only", nargs="+", metavar="LEVEL",
                        help="with --all: record just these levels again (e.g. world1/crystal_mine), keep the rest")
    return parser


def declare(args) -> Declaration:
    """--all writes the committed set's clips and their listing in training/recordings (the project's own,
    replaced by design; every clip is declared: --only keeps the others, but one the listing lacks is recorded
    too); one recording writes --out (replaced, as the clip is the script's own). Each game runs in a throw-away
    HOME in the scratch folder."""
    if args.all:
        outputs = [Output(f"the {level} clip", clip_path(game, level), owned=True) for game, level, _, _ in CLIPS]
        outputs.append(Output("the recordings' listing", RECORDINGS / "recordings.json", owned=True))
    else:
        outputs = [Output("--out", args.out, owned=True)]
    return Declaration("record_gameplay", {}, (scratch_output(), *outputs))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.all and not (args.game and args.level and args.out):
        parser.error("give GAME --level LEVEL --out FILE.mp4, or --all")
    try:
        declare(args).check()
    except LivestyleError as error:
        parser.error(str(error))
    if args.all:
        return record_all(args.only)
    frames = record(args.game, args.level, args.seconds, args.seed, args.out)
    print(f"wrote {args.out}: {describe(frames, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
