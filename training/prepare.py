"""Data sets from your own footage: `python -m training.prepare frames|faces`.

Writes the standard layout that `training.fit` reads (DIR/{train,val,test}/{game,movie}/*.png
plus DIR/manifest.json) from game recordings and films, as the report builds its data sets:
frames drawn at random across the whole of every video, never the same frame twice, squashed
to 128x128, split train/val/test 8:1:1.

How it works, per domain:

1. Counting pass. Every video is decoded once with PyAV, start to end, to count its frames
   exactly and read their time stamps (container metadata is wrong for MPEG-TS, variable
   frame rate and start offsets, and seeking lands on the wrong frame in such files). In
   `frames` mode a 12x12 grey thumbnail of every frame is kept for the near-duplicate check.
2. Split. The domain's footage (all sources end to end) is cut into contiguous segments; in
   every run of 10 segments, 8 go to train, 1 to val, 1 to test (seeded shuffle). Neighbouring
   frames are near-duplicates, so splitting by segments keeps them out of different splits.
3. Draw. Frames are drawn at random from each split's segments (so in proportion to length),
   at least --min-gap apart within a source (also across splits). In `frames` mode a drawn
   frame is skipped when it is blank (one flat colour, e.g. a fade to black) or nearly the same
   as the nearest kept frame of its source (a static scene); drawing goes on until --count is met.
4. Extraction pass. Each video is decoded again sequentially; only the chosen frames are
   converted to images. In `faces` mode the chosen frames are candidates: OpenCV's Haar
   cascade (shipped inside opencv-python-headless) looks for the largest usable face in each,
   and more candidates are drawn in a further pass when too few faces were found.

Everything is written to a temporary folder next to --out that is renamed into place at the
end, so an interrupted or failed run leaves nothing behind.
"""
from __future__ import annotations

import argparse
import bisect
import json
import math
import shlex
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from livestyle.core.cli import ArgumentParser, bounded_int, configure_logging, finite_float, interrupted, interruptible
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import describe, folder_under_construction
from livestyle.core.sizes import MAX_SIDE, side_fits
from livestyle.faces.crop import FACE_CROP
from training.data import DOMAINS, IMAGE_SUFFIXES

KINDS = ("frames", "faces")
SPLITS = ("train", "val", "test")
DEFAULT_COUNT = {"frames": 1500, "faces": 1000}  # the report's data sizes per domain
FITS = ("squash", "crop", "keep")
KEEP_WIDTH = 640  # --fit keep: frames scaled down to this width (the live app's default inference width)
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".ts", ".m2ts", ".mts", ".mpg",
                  ".mpeg", ".flv", ".wmv", ".ogv", ".3gp", ".gif"}

# Segments: at least this many frames each (about 10 s of 30 fps footage) before a domain's
# footage is cut into more than one round of segments; at most this many rounds.
SEGMENT_FRAMES = 300
MAX_ROUNDS = 20

# Near-duplicates: mean absolute difference of 12x12 grey thumbnails (0-255 levels). Compression
# noise and film grain average out at this size (well under 1 level) and a static scene stays
# there, while 30 fps footage in motion moves it by 1-2 levels per frame and a cut by tens.
THUMB = 12
NEAR_DUPLICATE = 2.0
BLANK_STD = 2.0  # a thumbnail this flat is one colour: black, white, a fade

# Faces. The crop rule (margin, minimum face, square) is livestyle.faces.crop.FACE_CROP, shared with the
# runtime so that a faces model sees at run time the crops it learnt from.
FACE_CASCADE = "haarcascade_frontalface_default.xml"
MIN_FACE = FACE_CROP.min_face
DETECT_SIDE = 800      # faces are detected on a copy at most this large (Haar cost grows with area)
BLUR_SIDE = 64         # sharpness is measured at this size, so the threshold does not depend on it
BLUR_THRESHOLD = 20.0  # variance of the Laplacian below which a crop is too blurry to learn from
FACE_CANDIDATES = 3.0  # first pass: candidate frames per face wanted (many frames show no face)
MAX_PASSES = 4


class PrepareError(LivestyleError):
    """A problem the user can fix; main() prints it as one line and exits with 2."""


# ----------------------------------------------------------------------------- sources

@dataclass
class Source:
    """One video, or the images of one folder taken in name order as a sequence of frames."""
    path: Path
    files: list[Path] | None = None   # the images of a sequence; None for a video
    frames: int = 0
    size: tuple[int, int] | None = None  # (width, height) of a video's frames
    times: np.ndarray | None = None      # seconds per frame (NaN where unknown)
    thumbs: np.ndarray | None = None     # frames x THUMB x THUMB grey, in frames mode
    fps: float | None = None
    start: int = 0                       # first frame in the domain's timeline

    @property
    def is_video(self) -> bool:
        return self.files is None


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def collect_sources(domain: str, specs: list[str]) -> list[Source]:
    """The videos and image sequences named by --game/--movie (files or folders, mixed)."""
    sources, seen = [], set()

    def add(source: Source):
        key = (source.path.resolve(), None if source.files is None else tuple(source.files))
        if key not in seen:  # the same file given twice is used once
            seen.add(key)
            sources.append(source)

    for spec in specs:
        path = Path(spec)
        if not path.exists():
            raise PrepareError(f"--{domain} {spec}: no such file or folder")
        if path.is_file():
            add(Source(path, files=[path]) if path.suffix.lower() in IMAGE_SUFFIXES else Source(path))
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES]
        if others:
            more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
            raise PrepareError(f"{others[0]}{more} in --{domain} folder {path} is neither a video nor an "
                               "image; move it out of the folder or list the files you want")
        if not files:
            raise PrepareError(f"--{domain} folder {path} has no videos or images (looked for "
                               f"{', '.join(sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))})")
        # A folder's images are one sequence (screenshots named in time order are neighbours).
        sequences: dict[Path, list[Path]] = {}
        for file in files:
            if file.suffix.lower() in IMAGE_SUFFIXES:
                sequences.setdefault(file.parent, []).append(file)
            else:
                add(Source(file))
        for folder, images in sequences.items():
            add(Source(folder, files=images))
    return sources


def _video_error(path: Path, what: str) -> PrepareError:
    return PrepareError(f"{path}: {what}; check that it plays, or re-encode it "
                        "(e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")


def _open_video(path: Path):
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise _video_error(path, f"cannot be read as a video ({error})") from None
    if not container.streams.video:
        container.close()
        raise _video_error(path, "has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame threading; frames still come out in order
    return container, stream


def _decode(path: Path, container, stream):
    """Frames in decode order, with one clear error for broken data or a frame size change."""
    size, index = None, 0
    try:
        for frame in container.decode(stream):
            if size is None:
                size = (frame.width, frame.height)
            elif (frame.width, frame.height) != size:
                raise PrepareError(
                    f"{path}: the frame size changes from {size[0]}x{size[1]} to {frame.width}x"
                    f"{frame.height} at frame {index}; re-encode it at one size "
                    f"(e.g. ffmpeg -i IN -vf scale={size[0]}:{size[1]} OUT.mp4) or cut it in parts")
            yield index, frame
            index += 1
    except av.FFmpegError as error:
        raise _video_error(path, f"decoding failed after {index} frames ({error})") from None


def _thumbnail(image: np.ndarray) -> np.ndarray:
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 thumbnails, in grey levels."""
    return float(cv2.absdiff(a, b).mean())


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PrepareError(f"cannot read image {path}: the file is damaged or not an image; "
                           "delete or replace it")
    return image


def scan(source: Source, thumbs: bool, bar: tqdm) -> None:
    """Counting pass: the exact number of frames, their time stamps and (optionally) thumbnails."""
    times, small = [], []
    if not source.is_video:
        for file in source.files:
            if thumbs:
                small.append(_thumbnail(_read_image(file)))
            elif not cv2.haveImageReader(str(file)):
                raise PrepareError(f"cannot read image {file}: not a supported image; delete or replace it")
            times.append(math.nan)
            bar.update()
    else:
        container, stream = _open_video(source.path)
        with container:
            rate = stream.guessed_rate or stream.average_rate
            for index, frame in _decode(source.path, container, stream):
                source.size = (frame.width, frame.height)
                time = frame.time  # pts * time_base; None when the stream has no pts
                if time is None and rate:
                    time = (times[-1] + 1 / float(rate)) if times and not math.isnan(times[-1]) \
                        else index / float(rate)
                times.append(math.nan if time is None else float(time))
                if thumbs:
                    small.append(frame.reformat(width=THUMB, height=THUMB, format="gray",
                                                interpolation="AREA").to_ndarray())
                bar.update()
        if not times:
            raise _video_error(source.path, "has no decodable video frames")
        known = np.array(times)[~np.isnan(times)]
        span = float(known.max() - known.min()) if len(known) > 1 else 0.0
        source.fps = (len(known) - 1) / span if span > 0 else (float(rate) if rate else None)
    source.frames = len(times)
    source.times = np.array(times, np.float64)
    source.thumbs = np.stack(small) if thumbs else None


def read_frames(source: Source, wanted: list[int]):
    """(frame index, BGR image, time stamp) for the wanted frames (sorted), in one sequential pass."""
    if not wanted:
        return
    if not source.is_video:
        for index in wanted:
            yield index, _read_image(source.files[index]), None
        return
    targets = iter(wanted)
    target = next(targets)
    decoded = 0
    container, stream = _open_video(source.path)
    with container:
        for index, frame in _decode(source.path, container, stream):
            decoded = index + 1
            if index == target:  # only the chosen frames are converted ("retrieved")
                time = source.times[index]
                yield index, frame.to_ndarray(format="bgr24"), None if math.isnan(time) else float(time)
                target = next(targets, None)
                if target is None:
                    return
    raise _video_error(source.path, f"ended at frame {decoded} on the second pass, after "
                                    f"{source.frames} frames on the first")


# ----------------------------------------------------------------------------- split and draw

def split_quotas(count: int, ratios: tuple[int, int, int]) -> dict[str, int]:
    """Images per split for one domain; val and test are rounded down, train gets the rest."""
    total = sum(ratios)
    val, test = count * ratios[1] // total, count * ratios[2] // total
    return {"train": count - val - test, "val": val, "test": test}


def assign_segments(frames: int, ratios: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Split number (0 train, 1 val, 2 test) of every frame of a domain's timeline.

    The timeline is cut into rounds of sum(ratios) contiguous segments of (nearly) equal length;
    each round holds the ratios' number of train, val and test segments in a seeded random
    order, so val and test come from all over the footage, not only from its end.
    """
    reduced = np.array(ratios) // math.gcd(*ratios)
    block = int(reduced.sum())
    rounds = int(np.clip(frames // (block * SEGMENT_FRAMES), 1, MAX_ROUNDS))
    labels = np.repeat(np.arange(3), reduced)
    pattern = np.concatenate([rng.permutation(labels) for _ in range(rounds)])
    edges = np.round(np.linspace(0, frames, len(pattern) + 1)).astype(np.int64)
    return np.repeat(pattern, np.diff(edges)).astype(np.int8)


def segments_of(split_of: np.ndarray, source: Source) -> list[list]:
    """[first frame, end frame (exclusive), split] runs of one source, in its own frame numbers."""
    labels = split_of[source.start:source.start + source.frames]
    cuts = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(labels)]
    return [[int(a), int(b), SPLITS[labels[a]]] for a, b in zip(starts, ends, strict=False)]


class Sampler:
    """Draws frames of one domain at random, per split, at least a gap apart within a source.

    With thumbnails it also skips blank frames and frames nearly the same as the nearest kept
    frame of their source on either side in time.
    """

    def __init__(self, sources: list[Source], split_of: np.ndarray, gaps: list[int], rng: np.random.Generator):
        self.sources = sources
        self.source_of = np.repeat(np.arange(len(sources)), [s.frames for s in sources])
        self.gaps = gaps
        self.blocked = np.zeros(len(split_of), bool)
        self.order = [rng.permutation(np.flatnonzero(split_of == s)) for s in range(len(SPLITS))]
        self.position = [0] * len(SPLITS)
        self.thumbs = np.concatenate([s.thumbs for s in sources]) if sources[0].thumbs is not None else None
        self.kept: list[list[int]] = [[] for _ in sources]  # sorted timeline indices per source
        self.skipped = Counter()

    def exhausted(self, split: int) -> bool:
        return self.position[split] >= len(self.order[split])

    def similar_to_kept(self, thumb: np.ndarray, kept: list[int], at: int) -> bool:
        """Nearly the same picture as the nearest kept frame before or after it."""
        return any(_difference(self.thumbs[k], thumb) < NEAR_DUPLICATE for k in kept[max(0, at - 1):at + 1])

    def draw(self, split: int, n: int) -> list[int]:
        picks, order = [], self.order[split]
        while len(picks) < n and self.position[split] < len(order):
            index = int(order[self.position[split]])
            self.position[split] += 1
            if self.blocked[index]:
                continue
            s = int(self.source_of[index])
            kept = self.kept[s]
            at = bisect.bisect(kept, index)
            if self.thumbs is not None:
                if self.thumbs[index].std() < BLANK_STD:
                    self.skipped["blank"] += 1
                    continue
                if self.similar_to_kept(self.thumbs[index], kept, at):
                    self.skipped["near_duplicate"] += 1
                    continue
            kept.insert(at, index)
            picks.append(index)
            start, end = self.sources[s].start, self.sources[s].start + self.sources[s].frames
            self.blocked[max(start, index - self.gaps[s] + 1):min(end, index + self.gaps[s])] = True
        return picks


# ----------------------------------------------------------------------------- images

def fit_frame(image: np.ndarray, size: int, fit: str, keep_width: int = KEEP_WIDTH) -> tuple[np.ndarray, list[int]]:
    """The output image and its crop box [x, y, w, h] in the frame. fit "keep": the whole frame,
    its aspect kept, scaled down (never up) to keep_width wide."""
    height, width = image.shape[:2]
    box = [0, 0, width, height]
    if fit == "keep":
        if width <= keep_width:
            return image, box
        target = (keep_width, max(1, round(height * keep_width / width)))
        return cv2.resize(image, target, interpolation=cv2.INTER_AREA), box
    if fit == "crop":
        side = min(width, height)
        box = [(width - side) // 2, (height - side) // 2, side, side]
    return _resize_box(image, box, size), box


def _resize_box(image: np.ndarray, box: list[int], size: int) -> np.ndarray:
    x, y, w, h = box
    crop = image[y:y + h, x:x + w]
    interpolation = cv2.INTER_AREA if min(w, h) >= size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interpolation)


class FaceFinder:
    """The largest usable face of a frame as a square crop box, or the reason there is none."""

    def __init__(self, image_size: int):
        self.cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / FACE_CASCADE))
        if self.cascade.empty():
            raise PrepareError(f"cannot load OpenCV's {FACE_CASCADE} from {cv2.data.haarcascades}; "
                               "reinstall opencv-python-headless (4.x)")
        self.min_face = FACE_CROP.smallest_face(image_size)

    def find(self, image: np.ndarray) -> tuple[list[int] | None, str]:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = grey.shape
        scale = min(1.0, DETECT_SIDE / max(height, width))
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        faces = self.cascade.detectMultiScale(cv2.equalizeHist(small), scaleFactor=1.1, minNeighbors=5,
                                              minSize=(24, 24))
        if len(faces) == 0:
            return None, "no_face"
        x, y, w, h = (float(v) / scale for v in max(faces, key=lambda f: f[2] * f[3]))
        if min(w, h) < self.min_face:
            return None, "small"
        left, top, side = FACE_CROP.box(x, y, w, h, width, height)
        box = [left, top, side, side]
        sharp = cv2.resize(grey[top:top + side, left:left + side], (BLUR_SIDE, BLUR_SIDE),
                           interpolation=cv2.INTER_AREA)
        if cv2.Laplacian(sharp, cv2.CV_64F).var() < BLUR_THRESHOLD:
            return None, "blurry"
        return box, "ok"


# ----------------------------------------------------------------------------- preparation

@dataclass
class Picked:
    """One image of the data set (before it has its final name)."""
    split: int
    rank: int              # draw order: a random order, so any prefix is a random sample
    source: int
    frame: int             # index within the source
    box: list[int] | None = None
    timestamp: float | None = None
    scratch: Path | None = None  # faces: the crop, written before the final selection


@dataclass
class Domain:
    name: str
    sources: list[Source]
    split_of: np.ndarray
    sampler: Sampler
    gaps: list[int]
    picked: list[Picked] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def _gaps(sources: list[Source], min_gap: float | None, frames: int, wanted: float) -> list[int]:
    """Minimum distance in frames between two drawn frames of each source."""
    if min_gap is None:  # automatic: half the average spacing of the frames to draw
        return [max(1, int(frames / max(wanted, 1) / 2))] * len(sources)
    return [max(1, math.ceil(min_gap * s.fps)) if s.is_video and s.fps else 1 for s in sources]


def _entry(domain: Domain, picked: Picked, path: str) -> dict:
    source = domain.sources[picked.source]
    entry = {"path": path, "split": SPLITS[picked.split], "domain": domain.name}
    if source.is_video:
        entry.update(source=str(source.path), frame_index=picked.frame, timestamp=
                     None if picked.timestamp is None else round(picked.timestamp, 6))
    else:  # an image of a sequence: the file itself, frame 0
        entry.update(source=str(source.files[picked.frame]), frame_index=0, timestamp=None,
                     sequence_position=picked.frame)
    entry["crop_box"] = picked.box
    return entry


def _extract(domain: Domain, wanted: dict[int, list[Picked]], desc: str, progress: bool, handle) -> None:
    """One sequential pass over the sources that have wanted frames; handle(picked, image)."""
    total = sum(max(p.frame for p in w) + 1 for s, w in wanted.items() if domain.sources[s].is_video) + \
        sum(len(w) for s, w in wanted.items() if not domain.sources[s].is_video)
    with tqdm(total=total, desc=desc, unit="frame", disable=not progress, leave=False) as bar:
        for s in sorted(wanted):
            by_frame = {p.frame: p for p in wanted[s]}
            done = 0
            for index, image, time in read_frames(domain.sources[s], sorted(by_frame)):
                picked = by_frame[index]
                picked.timestamp = time
                handle(picked, image)
                bar.update(index + 1 - done if domain.sources[s].is_video else 1)
                done = index + 1


def _shortfall(domain: Domain, kind: str, found: dict[int, int], quotas: dict[str, int]) -> str:
    missing = ", ".join(f"{found[i]} of {quotas[split]} {split}" for i, split in enumerate(SPLITS)
                        if found[i] < quotas[split])
    names = ", ".join(str(s.path) for s in domain.sources[:3]) + (" ..." if len(domain.sources) > 3 else "")
    skipped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in sorted(domain.skipped.items()) if n)
    frames = sum(s.frames for s in domain.sources)
    what = "frames" if kind == "frames" else "face crops"
    return (f"--{domain.name}: found only {missing} usable {what} in {frames} frames of {names}"
            + (f" (skipped: {skipped})" if skipped else ""))


def prepare(kind: str, game: list[str], movie: list[str], out, count: int | None = None, *,
            image_size: int = 128, fit: str = "squash", keep_width: int = KEEP_WIDTH,
            split: tuple[int, int, int] = (8, 1, 1),
            seed: int = 0, min_gap: float | None = None, allow_fewer: bool = False,
            overwrite: bool = False, progress: bool = True, command: str | None = None) -> dict:
    """Write a data set from footage to ``out``; returns its manifest. Raises PrepareError."""
    count, quotas = _check_options(kind, count, image_size, fit, split, min_gap)
    out = Path(out)
    specs = {"game": game, "movie": movie}
    # Before anything else: --overwrite must never delete footage it was asked to read.
    declaration(specs, out, overwrite).check()
    sources = {d: collect_sources(d, specs[d]) for d in DOMAINS}
    if command is None:
        command = f"training.prepare.prepare({kind!r}, {game!r}, {movie!r}, {str(out)!r}, {count})"

    rng = np.random.default_rng(np.random.SeedSequence([seed, KINDS.index(kind)]))
    # Built in a private folder next to --out and renamed into place at the end: an interrupted or
    # failed run leaves nothing behind, and an existing --out stays as it was until then.
    with folder_under_construction(out, overwrite=overwrite) as tmp:
        # In DOMAINS order: the domains share the rng, so this order fixes their splits and draws.
        domains = {name: _count_domain(name, sources[name], kind, count, split, min_gap, rng, progress)
                   for name in DOMAINS}
        passes = _pick_images(domains, kind, quotas, tmp, image_size, (fit, keep_width), min_gap, allow_fewer,
                              progress)
        images = _name_images(domains, tmp)
        counts = {s: {d: sum(1 for p in domains[d].picked if p.split == i) for d in DOMAINS}
                  for i, s in enumerate(SPLITS)}
        manifest = {
            "schema": 1, "source": "footage", "kind": kind, "generator": "training.prepare",
            "paired": False, "image_size": image_size, "seed": seed, "channel_order_on_disk": "png",
            "command": command, "fit": "face" if kind == "faces" else fit, "split": list(split),
            **({"keep_width": keep_width} if fit == "keep" and kind == "frames" else {}),
            "min_gap_seconds": min_gap, "requested_count": count, "passes": passes,
            "counts": counts,
            "skipped": {d: dict(sorted(domains[d].skipped.items())) for d in DOMAINS},
            "sources": {d: [_source_entry(domains[d], i) for i in range(len(domains[d].sources))]
                        for d in DOMAINS},
            "images": images,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _write(tmp / "preview.png", contact_sheet(tmp, images))
    return manifest


def _check_options(kind: str, count: int | None, image_size: int, fit: str, split: tuple[int, int, int],
                   min_gap: float | None) -> tuple[int, dict[str, int]]:
    """The checks that need no file: (count, with its default for the kind, and images per split)."""
    if kind not in KINDS:
        raise PrepareError(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    count = DEFAULT_COUNT[kind] if count is None else count
    if fit not in FITS:
        raise PrepareError(f"--fit {fit!r}: use one of {', '.join(FITS)}")
    if not side_fits(image_size):
        raise PrepareError(f"--image-size {image_size} is invalid; use a multiple of 8 from 16 to {MAX_SIDE} "
                           "(e.g. 128)")
    if len(split) != 3 or min(split) < 1:
        raise PrepareError(f"--split {','.join(map(str, split))}: use three positive whole numbers, e.g. 8,1,1")
    quotas = split_quotas(count, split)
    if min(quotas.values()) < 1:
        raise PrepareError(f"--count {count} is too small for --split {','.join(map(str, split))}: "
                           "every split needs at least one image per domain")
    if min_gap is not None and min_gap < 0:
        raise PrepareError(f"--min-gap {min_gap}: use a number of seconds, 0 or more")
    return count, quotas


def _count_domain(name: str, sources: list[Source], kind: str, count: int, split: tuple[int, int, int],
                  min_gap: float | None, rng: np.random.Generator, progress: bool) -> Domain:
    """Counting pass over one domain's sources, then its split into segments and its sampler."""
    with tqdm(desc=f"count {name}", unit="frame", disable=not progress) as bar:
        for source in sources:
            bar.set_postfix_str(source.path.name)
            scan(source, kind == "frames", bar)
    frames = 0
    for source in sources:
        source.start, frames = frames, frames + source.frames
    split_of = assign_segments(frames, split, rng)
    wanted = count * (FACE_CANDIDATES if kind == "faces" else 1)
    gaps = _gaps(sources, min_gap, frames, wanted)
    return Domain(name, sources, split_of, Sampler(sources, split_of, gaps, rng), gaps)


def _pick_images(domains: dict[str, Domain], kind: str, quotas: dict[str, int], tmp: Path, image_size: int,
                 fit: tuple[str, int], min_gap: float | None, allow_fewer: bool, progress: bool) -> int:
    """Draw and extract every domain's images into scratch files; returns the extraction passes it took."""
    passes = 1
    if kind == "frames":  # the draw knows what is usable before anything is decoded again
        for domain in domains.values():
            _draw_frames(domain, quotas)
        _check_counts(domains, kind, quotas, min_gap, allow_fewer)
        for domain in domains.values():
            _extract_frames(domain, tmp, image_size, fit, progress)
    else:
        for domain in domains.values():
            passes = max(passes, _find_faces(domain, quotas, tmp, image_size, progress))
        _check_counts(domains, kind, quotas, min_gap, allow_fewer)
    return passes


def _write(path: Path, image: np.ndarray) -> None:
    """Into the private folder under construction; a full disk surfaces as a real OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise PrepareError(f"could not encode {path.name}")
    path.write_bytes(encoded.tobytes())


def _check_counts(domains: dict[str, Domain], kind: str, quotas: dict[str, int], min_gap: float | None,
                  allow_fewer: bool) -> None:
    problems = []
    for domain in domains.values():
        found = Counter(p.split for p in domain.picked)
        short = any(found[i] < quotas[s] for i, s in enumerate(SPLITS))
        if short and (not allow_fewer or min(found[i] for i in range(len(SPLITS))) == 0):
            problems.append(_shortfall(domain, kind, found, quotas))
    if problems:
        hint = "add footage, lower --count" + (" or --min-gap" if min_gap else "")
        hint += ", or pass --allow-fewer to accept fewer" if not allow_fewer else \
            " (--allow-fewer still needs one image per split)"
        raise PrepareError("; ".join(problems) + f"; {hint}")


def _draw_frames(domain: Domain, quotas: dict[str, int]) -> None:
    for i, split in enumerate(SPLITS):
        for index in domain.sampler.draw(i, quotas[split]):
            s = int(domain.sampler.source_of[index])
            domain.picked.append(Picked(i, len(domain.picked), s, index - domain.sources[s].start))
    domain.skipped.update(domain.sampler.skipped)


def _extract_frames(domain: Domain, tmp: Path, image_size: int, fit: tuple[str, int], progress: bool) -> None:
    scratch = tmp / ".frames"

    def keep(picked: Picked, image: np.ndarray):
        picked.scratch = scratch / f"{domain.name}-{picked.rank:06d}.png"
        output, picked.box = fit_frame(image, image_size, *fit)
        _write(picked.scratch, output)

    wanted = {}
    for picked in domain.picked:
        wanted.setdefault(picked.source, []).append(picked)
    _extract(domain, wanted, f"extract {domain.name}", progress, keep)


def _find_faces(domain: Domain, quotas: dict[str, int], tmp: Path, image_size: int, progress: bool) -> int:
    """Face crops for every split; returns the number of extraction passes it took."""
    finder = FaceFinder(image_size)
    scratch = tmp / ".faces"
    kept: list[list[tuple[int, np.ndarray]]] = [[] for _ in domain.sources]  # per source, in time order
    accepted = Counter()
    tried = found = rank = 0
    passes = 0
    for passes in range(1, MAX_PASSES + 1):
        wanted: dict[int, list[Picked]] = {}
        for i, split in enumerate(SPLITS):
            short = quotas[split] - accepted[i]
            if short <= 0 or domain.sampler.exhausted(i):
                continue
            # First pass: FACE_CANDIDATES frames per face; later: what the yield so far suggests.
            rate = found / tried if tried else 1 / FACE_CANDIDATES
            for index in domain.sampler.draw(i, math.ceil(short / max(rate, 0.02) * (1.0 if not tried else 1.5))):
                s = int(domain.sampler.source_of[index])
                wanted.setdefault(s, []).append(Picked(i, rank, s, index - domain.sources[s].start))
                rank += 1
        if not wanted:
            break

        def consider(picked: Picked, image: np.ndarray):
            nonlocal tried, found
            tried += 1
            box, reason = finder.find(image)
            if box is not None:
                x, y, w, h = box
                thumb = _thumbnail(image[y:y + h, x:x + w])
                times = kept[picked.source]
                at = bisect.bisect(times, picked.frame, key=lambda k: k[0])
                # The same face in nearly the same picture as the nearest kept crop of the source.
                if any(_difference(t, thumb) < NEAR_DUPLICATE for _, t in times[max(0, at - 1):at + 1]):
                    reason, box = "repeat", None
                else:
                    times.insert(at, (picked.frame, thumb))
            if box is None:
                domain.skipped[reason] += 1
                return
            found += 1
            accepted[picked.split] += 1
            picked.box = box
            picked.scratch = scratch / f"{domain.name}-{picked.rank:06d}.png"
            _write(picked.scratch, _resize_box(image, box, image_size))
            domain.picked.append(picked)

        _extract(domain, wanted, f"faces {domain.name} (pass {passes})", progress, consider)
        if all(accepted[i] >= quotas[s] for i, s in enumerate(SPLITS)):
            break
    # Crops beyond the quota are dropped; the first ones in draw order (a random order) stay.
    chosen = []
    for i, split in enumerate(SPLITS):
        chosen += sorted((p for p in domain.picked if p.split == i), key=lambda p: p.rank)[:quotas[split]]
    domain.picked = chosen
    return passes


def _name_images(domains: dict[str, Domain], tmp: Path) -> list[dict]:
    """Move the images to their final names: 00000.png... in draw order (a random order), so the
    first N files of a folder (training.fit --limit N) are a random sample, not one scene."""
    images = []
    for split_number, split in enumerate(SPLITS):
        for name, domain in domains.items():
            picked = sorted((p for p in domain.picked if p.split == split_number), key=lambda p: p.rank)
            folder = tmp / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for k, p in enumerate(picked):
                path = f"{split}/{name}/{k:05d}.png"
                p.scratch.replace(tmp / path)
                images.append(_entry(domain, p, path))
    for scratch in (".frames", ".faces"):
        shutil.rmtree(tmp / scratch, ignore_errors=True)
    return images


def contact_sheet(root: Path, images: list[dict], per_row: int = 8) -> np.ndarray:
    """A picture of the data set: a row of training images per domain, to look at before training."""
    rows = []
    tile_size = None
    for domain in DOMAINS:
        paths = [e["path"] for e in images if e["domain"] == domain and e["split"] == "train"][:per_row]
        tiles = [cv2.imread(str(root / p)) for p in paths]
        # Frames kept at their own sizes (--fit keep) are shown at the first one's, so they tile.
        tile_size = tile_size or (tiles[0].shape[1], tiles[0].shape[0])
        tiles = [t if (t.shape[1], t.shape[0]) == tile_size else cv2.resize(t, tile_size, interpolation=cv2.INTER_AREA)
                 for t in tiles]
        tiles += [np.full_like(tiles[0], 255)] * (per_row - len(tiles))
        rows.append(cv2.hconcat(tiles))
    return cv2.vconcat(rows)


def _source_entry(domain: Domain, index: int) -> dict:
    source = domain.sources[index]
    entry = {"path": str(source.path), "type": "video" if source.is_video else "images",
             "frames": source.frames}
    if source.is_video:
        known = source.times[~np.isnan(source.times)]
        entry.update(width=source.size[0], height=source.size[1],
                     fps=None if source.fps is None else round(source.fps, 4),
                     first_timestamp=round(float(known[0]), 6) if len(known) else None,
                     duration=round(float(known.max() - known.min()), 6) if len(known) > 1 else None)
    entry["min_gap_frames"] = domain.gaps[index]
    entry["segments"] = segments_of(domain.split_of, source)
    entry["used"] = {s: sum(1 for p in domain.picked if p.source == index and p.split == i)
                     for i, s in enumerate(SPLITS)}
    return entry


def summary(manifest: dict) -> str:
    """Images and contributing sources per domain and split, and what was skipped."""
    lines = ["  domain  split    images  sources"]
    for domain in DOMAINS:
        for split in SPLITS:
            sources = sum(1 for s in manifest["sources"][domain] if s["used"][split])
            lines.append(f"  {domain:<7} {split:<6} {manifest['counts'][split][domain]:>8} {sources:>8}")
    for domain in DOMAINS:
        skipped = manifest["skipped"][domain]
        text = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in skipped.items()) or "none"
        lines.append(f"  skipped ({domain}): {text}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line

def _split_argument(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three whole numbers like 8,1,1") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three whole numbers like 8,1,1")
    return values


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m training.prepare",
        description="Build an unpaired game/movie data set (standard layout + manifest.json) from "
                    "your own videos or images: whole frames, or face crops.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  python -m training.prepare frames --game gameplay.mp4 --movie film.mkv --out data/mine\n"
               "  python -m training.fit frames --data data/mine\n"
               "  python -m training.prepare faces --game recordings/ --movie films/ --out data/faces\n"
               "\nSRC is a video file or a folder of videos and/or images (searched recursively; a "
               "folder's images\nare one sequence in name order).")
    parser.add_argument("kind", choices=KINDS, help="frames: whole frames; faces: square face crops")
    parser.add_argument("--game", nargs="+", required=True, metavar="SRC", help="game footage")
    parser.add_argument("--movie", nargs="+", required=True, metavar="SRC", help="film footage")
    parser.add_argument("--out", required=True, type=Path, help="data set folder to create")
    parser.add_argument("--count", type=bounded_int(1, 10**6),
                        help="images per domain (default: frames 1500, faces 1000)")
    parser.add_argument("--image-size", type=bounded_int(16, MAX_SIDE), default=128,
                        help="side in pixels, a multiple of 8 (default 128)")
    parser.add_argument("--fit", choices=FITS, default="squash",
                        help="frames to square: squash (the report; aspect not kept) or crop (centre); or keep: "
                             "the whole frame at its aspect, scaled down to --width, for training.fit --crop")
    parser.add_argument("--width", type=bounded_int(16, MAX_SIDE), default=KEEP_WIDTH,
                        help=f"with --fit keep: frames wider than this are scaled down to it (default {KEEP_WIDTH}, "
                             f"the live app's inference width; never scaled up)")
    parser.add_argument("--split", type=_split_argument, default=(8, 1, 1),
                        help="train,val,test ratio (default 8,1,1), by contiguous segments of footage")
    parser.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=0,
                        help="seed of the split and draw (default 0)")
    parser.add_argument("--min-gap", type=finite_float(low=0), metavar="SECONDS",
                        help="least time between two frames taken from one video (default: half the "
                             "average spacing of the frames drawn)")
    parser.add_argument("--allow-fewer", action="store_true",
                        help="write the data set even when fewer than --count usable frames/faces exist")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def declaration(sources: dict, out: Path, overwrite: bool) -> Declaration:
    """training.prepare reads the footage (--game, --movie) and writes one new data set folder, --out (replaced
    only with --overwrite, never the footage)."""
    return Declaration("training.prepare", {f"--{d}": list(sources[d]) for d in DOMAINS},
                       (Output("--out", Path(out), folder=True),), overwrite=overwrite)


def declare(args) -> Declaration:
    return declaration({"game": args.game, "movie": args.movie}, args.out, args.overwrite)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already reported
        return int(stop.code or 0)
    configure_logging(args)

    command = "python -m training.prepare " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    try:
        with interruptible():
            manifest = prepare(args.kind, args.game, args.movie, args.out, args.count, image_size=args.image_size,
                               fit=args.fit, keep_width=args.width, split=args.split, seed=args.seed,
                               min_gap=args.min_gap, allow_fewer=args.allow_fewer, overwrite=args.overwrite,
                               progress=not args.quiet, command=command)
    except LivestyleError as error:  # bad input, which the user can fix: 2, like a usage error
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # the machine failed mid-run (e.g. the disk filled up while writing images): 1
        print(f"error: {describe(error, f'--out {args.out}')}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM: the folder being built is removed, an old --out kept
        return interrupted(f"nothing was written to {args.out}")
    shape = (f"whole frames at most {args.width} px wide" if manifest["fit"] == "keep"
             else f"{manifest['image_size']}px")
    print(f"wrote {args.out}: {args.kind}, {shape}, {len(manifest['images'])} images "
          f"(a look at them: {args.out / 'preview.png'})")
    print(summary(manifest))
    crop = " --crop" if manifest["fit"] == "keep" else ""
    print(f"train on it: python -m training.fit {args.kind} --data {shlex.quote(str(args.out))}{crop}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
