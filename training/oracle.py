"""Real-footage oracles: paired game/movie data sets built from recorded gameplay.

  python -m training.oracle supertux --look teal-orange                 # other levels (the real case)
  python -m training.oracle neverball --look faded-print --movie same-levels
  python -m training.oracle --list                                      # games, levels and looks

The clips are short H.264 recordings of games from Debian packages, kept in the repository
(training/recordings/, listed in recordings.json with their sha256; scripts/record_gameplay.py
made them), so the same oracle builds everywhere without a download or a game installed.

Each clip is cut into segments of SEGMENT frames; whole segments go to one split, so held-out
frames are not neighbours of training frames. The game domain is the raw footage; the movie
domain is footage with a film look (training.looks) including grain and other film artefacts.
Paired val/test frames are held-out game segments before and after the look's deterministic
grade (no grain: that no model can predict), as the synthetic oracle does.

  --movie same-levels   movie clips show the same levels as game clips (isolates learning the look)
  --movie other-levels  game and movie clips show different levels, as a user's film never shows
                        their game's content (default)

Frames are kept at their recorded size (e.g. 640×360): squashing a square copy is the trainer's
job. The manifest records a sha256 of every image's pixels (`oracle_sha256`); the command says
whether it matches the reference build in training/recordings/oracles.json.
"""
from __future__ import annotations

import hashlib
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from livestyle.core.checks import FileCheck
from livestyle.core.cli import ArgumentParser, bounded_int, run_command
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import check_apart, describe, folder_under_construction
from training import looks

ORACLE_VERSION = "1"
RECORDINGS = Path(__file__).resolve().parent / "recordings"
MOVIE_KINDS = ("other-levels", "same-levels")
SEGMENT = 10  # frames (1 s at 10 fps) that always go to the same split
# Of every ten segments of a clip: which split it feeds. Test and val segments sit between
# training segments, so every part of a level is represented.
SAME_LEVELS = ("game", "movie", "game", "movie", "val", "game", "movie", "game", "movie", "test")
GAME_LEVELS = ("game", "game", "game", "val", "game", "game", "game", "game", "test", "game")
MOVIE_LEVELS = ("movie",) * 8 + ("val", "movie")
# A frame that differs from the last kept frame of its clip by less than this mean absolute
# difference (grey levels) is a repeat (a paused or idle moment) and is dropped.
REPEAT_THRESHOLD = 1.0
# The oracles every quality benchmark scores (scripts/benchmark_quality.py): both games, both
# kinds of movie footage, all three looks, so no choice is tuned to one look or one game.
ORACLES = (("supertux", "teal-orange", "other-levels"), ("supertux", "bleach-bypass", "same-levels"),
           ("neverball", "faded-print", "other-levels"), ("neverball", "teal-orange", "same-levels"),
           # Issue 25: two looks written from a colourist's description; cross-processed is kept back
           # (training.looks.KEPT_BACK): no choice is made on it, the final default is reported on it.
           ("supertux", "day-for-night", "other-levels"), ("neverball", "cross-processed", "other-levels"))
MINIMUM = {"train/game": 100, "train/movie": 100, "val": 10, "test": 20}


class OracleError(LivestyleError):
    """Recordings or settings that cannot make an oracle; the message names the fix."""


@dataclass
class Clip:
    game: str
    level: str
    path: Path
    sha256: str


def read_recordings(folder: Path) -> list[Clip]:
    path = folder / "recordings.json"
    if not path.is_file():
        raise OracleError(f"{path} is missing: pass --recordings with a folder that has recordings.json "
                          f"(the repository's is training/recordings)")
    check = FileCheck(path, "restore it with git checkout (scripts/record_gameplay.py writes it)", error=OracleError)
    listing = check.mapping(check.load_json())
    clips = []
    for index, entry in enumerate(check.get(listing, "clips", list)):
        entry = check.mapping(entry, f"clips[{index}]")
        file = check.get(entry, "file", str, name=f"clips[{index}].file")
        clips.append(Clip(check.get(entry, "game", str, name=f"clips[{index}].game"),
                          check.get(entry, "level", str, name=f"clips[{index}].level"),
                          check.inside(folder, file, f"clips[{index}].file"),
                          check.get(entry, "sha256", str, name=f"clips[{index}].sha256")))
    return clips


def games(clips: list[Clip]) -> dict[str, list[Clip]]:
    grouped: dict[str, list[Clip]] = {}
    for clip in clips:
        grouped.setdefault(clip.game, []).append(clip)
    return grouped


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """BT.601 limited range, integer arithmetic, chroma repeated: the same pixels on every machine
    (libswscale's converters differ by CPU), so the oracle's hash is stable."""
    height, width = y.shape
    u = u.repeat(2, 0).repeat(2, 1)[:height, :width].astype(np.int32) - 128
    v = v.repeat(2, 0).repeat(2, 1)[:height, :width].astype(np.int32) - 128
    c = 298 * (y.astype(np.int32) - 16) + 128
    rgb = np.stack([c + 409 * v, c - 100 * u - 208 * v, c + 516 * u], axis=-1) >> 8
    return np.clip(rgb, 0, 255).astype(np.uint8)


def decode(clip: Clip) -> list[np.ndarray]:
    """Every frame of a clip as uint8 H×W×3 RGB, after checking the file is the recorded one."""
    import av

    if not clip.path.is_file():
        raise OracleError(f"{clip.path} is missing: restore it with git checkout training/recordings")
    digest = hashlib.sha256(clip.path.read_bytes()).hexdigest()
    if digest != clip.sha256:
        raise OracleError(f"{clip.path} differs from the recording listed in recordings.json (sha256 "
                          f"{digest[:12]}…, expected {clip.sha256[:12]}…); restore it with git checkout")
    frames = []
    try:
        with av.open(str(clip.path)) as container:
            for frame in container.decode(video=0):
                planes = frame.reformat(format="yuv420p").to_ndarray()  # Y, then U, then V rows
                height, width = frame.height, frame.width
                u_rows = (height + 1) // 2
                y = planes[:height]
                chroma = planes[height:].reshape(2, u_rows, -1)[:, :, :(width + 1) // 2]
                frames.append(yuv420_to_rgb(y, chroma[0], chroma[1]))
    except av.error.FFmpegError as error:
        raise OracleError(f"cannot decode {clip.path}: {error}; restore it with git checkout") from None
    return frames


def distinct(frames: list[np.ndarray]) -> list[int]:
    """Indices of the frames that are not repeats of the last kept one."""
    kept, last = [], None
    for index, frame in enumerate(frames):
        if last is None or np.abs(frame.astype(np.int16) - last).mean() >= REPEAT_THRESHOLD:
            kept.append(index)
            last = frame.astype(np.int16)
    return kept


def plan(clips: list[Clip], movie: str) -> list[tuple[Clip, tuple[str, ...]]]:
    """Each clip with the split pattern of its segments. Other levels: clips alternate, in
    recordings.json order, between game levels and movie levels."""
    if movie == "same-levels":
        return [(clip, SAME_LEVELS) for clip in clips]
    if len(clips) < 2:
        raise OracleError(f"--movie other-levels needs at least two levels of {clips[0].game}; "
                          f"recordings.json lists {len(clips)}")
    return [(clip, GAME_LEVELS if index % 2 == 0 else MOVIE_LEVELS) for index, clip in enumerate(clips)]


def frame_seed(seed: int, look: str, clip_index: int, frame_index: int) -> np.random.Generator:
    sequence = np.random.SeedSequence([seed, list(looks.LOOKS).index(look), clip_index, frame_index])
    return np.random.default_rng(sequence)


class Writer:
    """Writes PNGs and hashes their pixels (not the PNG bytes: encoders differ between versions)."""

    def __init__(self, root: Path):
        self.root = root
        self.hashes: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, folder: str, name: str, rgb: np.ndarray) -> None:
        target = self.root / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
        if not ok:
            raise OracleError(f"could not encode {target}")
        target.write_bytes(encoded.tobytes())
        self.hashes[f"{folder}/{name}"] = hashlib.sha256(rgb.tobytes()).hexdigest()
        self.counts[folder] = self.counts.get(folder, 0) + 1

    def digest(self) -> str:
        total = hashlib.sha256()
        for name in sorted(self.hashes):
            total.update(f"{name}:{self.hashes[name]}\n".encode())
        return total.hexdigest()


def write_frame(write: Writer, look: str, role: str, name: str, frame: np.ndarray, rng) -> tuple | None:
    """One recorded frame into every folder its split needs; test frames return (input, truth)."""
    if role == "game":
        write("train/game", name, frame)
    elif role == "movie":
        write("train/movie", name, looks.apply(look, frame, rng))
    elif role == "val-movie":
        write("val/movie", name, looks.apply(look, frame, rng))
    elif role == "val":
        write("val/game", name, frame)
        write("val/oracle/game", name, frame)
        write("val/oracle/movie", name, looks.apply(look, frame))
    elif role == "test":
        graded = looks.apply(look, frame)
        write("test/game", name, frame)
        write("test/movie", name, looks.LOOKS[look].film(graded, rng))
        write("test/movie_clean", name, graded)
        return frame, graded
    return None


def build(game: str, look: str, movie: str, out: Path, recordings: Path = RECORDINGS, seed: int = 0, *,
          overwrite: bool = False, progress: bool = True, minimum: dict | None = None,
          command: str | None = None) -> dict:
    """Write the oracle to `out` (atomically: built beside it, renamed into place); returns its manifest."""
    if look not in looks.LOOKS:
        raise OracleError(f"unknown look {look!r}; choose from {', '.join(looks.LOOKS)}")
    if movie not in MOVIE_KINDS:
        raise OracleError(f"unknown --movie {movie!r}; choose from {', '.join(MOVIE_KINDS)}")
    check_apart({"--out": out}, {"--recordings": recordings})  # --overwrite must never replace the clips
    by_game = games(read_recordings(recordings))
    if game not in by_game:
        raise OracleError(f"no recordings of {game!r} in {recordings / 'recordings.json'}; "
                          f"choose from {', '.join(sorted(by_game)) or 'none'}")
    clips = by_game[game]
    minimum = {**MINIMUM, **(minimum or {})}
    with folder_under_construction(out, overwrite=overwrite) as tmp:
        write = Writer(tmp)
        test_pairs, sources = [], []
        planned = plan(clips, movie)
        bar = tqdm(total=len(planned), desc=f"oracle {game} {look} {movie}", unit="clip", disable=not progress)
        for clip_index, (clip, pattern) in enumerate(planned):
            frames = decode(clip)
            kept = distinct(frames)
            sources.append({"level": clip.level, "file": clip.path.name, "sha256": clip.sha256,
                            "frames": len(frames), "distinct": len(kept),
                            "role": "game and movie" if pattern is SAME_LEVELS else
                            ("game" if pattern is GAME_LEVELS else "movie")})
            for index in kept:
                role = pattern[(index // SEGMENT) % len(pattern)]
                if role == "val" and pattern is MOVIE_LEVELS:
                    role = "val-movie"
                rng = frame_seed(seed, look, clip_index, index)
                name = f"{clip.level}-{index:05d}.png"
                pair = write_frame(write, look, role, name, frames[index], rng)
                if pair:
                    test_pairs.append(pair)
                if role == "val" and pattern is SAME_LEVELS:  # the movie side's val frames: same segments
                    write_frame(write, look, "val-movie", name, frames[index], rng)
            bar.update()
        bar.close()
        check_minimum(write.counts, minimum, game, movie)
        manifest = {
            "schema": 1, "source": "recorded", "kind": "frames", "generator": "training.oracle",
            "oracle_version": ORACLE_VERSION, "game": game, "look": look, "movie": movie, "seed": seed,
            "paired": True, "frame_size": list(test_pairs[0][0].shape[1::-1]), "segment_frames": SEGMENT,
            "command": command or f"training.oracle.build({game!r}, {look!r}, {movie!r}, {str(out)!r})",
            "recordings": sources, "counts": dict(sorted(write.counts.items())),
            "oracle": {"val": {"game": "val/oracle/game", "movie": "val/oracle/movie"},
                       "test": {"game": "test/game", "movie": "test/movie_clean"}},
            "do_nothing": {"test": do_nothing(test_pairs)},
            "oracle_sha256": write.digest(),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def check_minimum(counts: dict[str, int], minimum: dict, game: str, movie: str) -> None:
    have = {"train/game": counts.get("train/game", 0), "train/movie": counts.get("train/movie", 0),
            "val": counts.get("val/oracle/game", 0), "test": counts.get("test/game", 0)}
    short = [f"{split} {have[split]} < {minimum[split]}" for split in minimum if have[split] < minimum[split]]
    if short:
        raise OracleError(f"the {game} recordings give too few distinct frames for --movie {movie} "
                          f"({', '.join(short)}); record longer clips with scripts/record_gameplay.py")


def do_nothing(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    from training.display import score  # torch only here

    inputs, truths = zip(*pairs, strict=False)
    return {name: round(value, 4) for name, value in score(inputs, truths).items()}


def default_out(game: str, look: str, movie: str) -> Path:
    return Path("data") / f"real-{game}-{look}-{movie}-v{ORACLE_VERSION}"


def reference_hash(recordings: Path, out_name: str) -> str | None:
    path = recordings / "oracles.json"
    if not path.is_file():
        return None
    check = FileCheck(path, "restore it with git checkout", error=OracleError)
    value = check.mapping(check.load_json()).get(out_name)
    return value if isinstance(value, str) else None


def cached_oracle(game: str, look: str, movie: str, recordings: Path = RECORDINGS) -> Path:
    """The oracle's folder under data/, built on first use (benchmarks, the study)."""
    out = default_out(game, look, movie)
    if not (out / "manifest.json").is_file():
        build(game, look, movie, out, recordings)
    return out


def list_recordings(recordings: Path) -> str:
    lines = [f"recordings in {recordings}:"]
    for game, clips in games(read_recordings(recordings)).items():
        lines.append(f"  {game}: {', '.join(clip.level for clip in clips)}")
    lines.append(f"looks: {', '.join(looks.LOOKS)}")
    lines.append(f"--movie: {', '.join(MOVIE_KINDS)}")
    return "\n".join(lines)


def build_parser() -> ArgumentParser:
    import argparse

    parser = ArgumentParser(prog="python -m training.oracle", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("game", nargs="?", help="which recorded game, e.g. supertux or neverball (--list shows them)")
    parser.add_argument("--look", choices=list(looks.LOOKS), default="teal-orange",
                        help="the film look of the movie domain (default teal-orange)")
    parser.add_argument("--movie", choices=MOVIE_KINDS, default="other-levels",
                        help="movie clips from other levels than the game clips (default), or the same levels")
    parser.add_argument("--out", type=Path, help="data set folder to create (default data/real-GAME-LOOK-MOVIE-v1)")
    parser.add_argument("--recordings", type=Path, default=RECORDINGS,
                        help="folder with recordings.json and the clips (default: the repository's)")
    parser.add_argument("--seed", type=bounded_int(0, 2**32 - 1), default=0, help="seed of grain and weave (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the recorded games, levels and looks, then exit")
    return parser


def declare(args) -> Declaration:
    """training.oracle reads --recordings and writes one new data set folder, --out (replaced only with
    --overwrite, never the recordings)."""
    out = args.out or default_out(args.game or "", args.look, args.movie)
    return Declaration("training.oracle", {"--recordings": args.recordings},
                       (Output("--out", out, folder=True, if_present="use it as --data"),), overwrite=args.overwrite)


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv, lambda args: run(args, argv),
                       lambda error, args: describe(error, f"--out {args.out}"),
                       stopped=lambda args: f"nothing was written to {args.out or 'data/'}")


def run(args, argv: list[str] | None) -> int:
    if args.list:
        print(list_recordings(args.recordings))
        return 0
    if not args.game:
        raise OracleError("name a game, e.g. python -m training.oracle supertux (--list shows them)")
    out = args.out or default_out(args.game, args.look, args.movie)
    declare(args).check()
    command = "python -m training.oracle " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    manifest = build(args.game, args.look, args.movie, out, args.recordings, args.seed,
                     overwrite=args.overwrite, progress=not args.quiet, command=command)
    reference = reference_hash(args.recordings, default_out(args.game, args.look, args.movie).name)
    print(summary(manifest, out, reference if args.seed == 0 else None))
    return 0


def summary(manifest: dict, out: Path, reference: str | None) -> str:
    counts, score = manifest["counts"], manifest["do_nothing"]["test"]
    width, height = manifest["frame_size"]
    lines = [f"wrote {out}: {manifest['game']}, look {manifest['look']}, movie from {manifest['movie']}, "
             f"{width}x{height} frames",
             f"  train game {counts.get('train/game', 0)}, train movie {counts.get('train/movie', 0)}, "
             f"val pairs {counts.get('val/oracle/game', 0)}, test pairs {counts.get('test/game', 0)}",
             f"  doing nothing on test (game vs true movie): SSIM {score['ssim']:.3f}, PSNR {score['psnr']:.2f} dB, "
             f"structure {score['structure']:.3f}"]
    if reference is None:
        lines.append(f"  oracle sha256 {manifest['oracle_sha256'][:16]}… (no reference build to compare)")
    elif reference == manifest["oracle_sha256"]:
        lines.append(f"  oracle sha256 {reference[:16]}… matches the reference build")
    else:
        lines.append(f"  warning: oracle sha256 {manifest['oracle_sha256'][:16]}… differs from the reference build "
                     f"{reference[:16]}… (other numpy/OpenCV?); scores are not comparable to docs/benchmarks.md")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
