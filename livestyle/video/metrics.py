"""python -m livestyle.video.metrics IN OUT [--reference REF] — how much a stylised video flickers.

  python -m livestyle.video.metrics gameplay.mp4 film-steady.mp4 --reference film.mp4
  python -m livestyle.video.metrics gameplay.mp4 film.mp4 --json

Warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): optical flow is measured
on the *source* frames (Farneback — deliberately not the DIS flow the stabiliser uses), pixels that
fail the forward–backward check or sit on motion boundaries are masked out, and for every pair of
frames the mean over the trusted pixels of ||O_t − warp(O_t−1)||² (RGB in [0, 1], summed over the
channels) is taken; the score is the mean over all pairs. Lower is steadier. The same number for the
source video itself is the floor: what its own motion and compression leave.

Steadiness alone can be cheated (repeat the first frame forever), so with --reference (the same video
stylised without stabilisation) it also reports fidelity: PSNR of OUT against REF, and REF's own
warping error for comparison. Every video is read at the source's aspect ratio, --width pixels wide.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import cast

import numpy as np
from tqdm import tqdm

from livestyle.core.cli import ArgumentParser, bounded_int, run_command
from livestyle.core.declared import Declaration
from livestyle.core.errors import LivestyleError
from livestyle.core.files import describe
from livestyle.core.images import resize_bgr
from livestyle.core.sizes import MAX_SIDE
from livestyle.runtime.flow import farneback, reliable, sample_maps, to_grey, warp
from livestyle.video.io import VideoReader

DEFAULT_WIDTH = 480


def work_size(size: tuple[int, int], width: int) -> tuple[int, int]:
    width = min(width, size[0])
    height = max(2, round(size[1] * width / size[0]))
    return width, height


def _frames(path: Path, size: tuple[int, int]):
    with VideoReader(path) as reader:
        for _, _, image in reader.frames():
            yield resize_bgr(image, size)


def _check_not_side_by_side(source: Path, other: Path, source_size) -> None:
    with VideoReader(other) as reader:
        size = reader.info.size
    if abs(size[0] / size[1] - 2 * source_size[0] / source_size[1]) < 0.02 and \
            abs(size[0] / size[1] - source_size[0] / source_size[1]) > 0.02:
        raise LivestyleError(f"{other} looks like a --side-by-side video (twice as wide as {source}); measure the "
                             f"plain output instead")


def measure(source: str | Path, output: str | Path, reference: str | Path | None = None,
            width: int = DEFAULT_WIDTH, progress: bool = False) -> dict:
    """The numbers the command prints; see the module docstring."""
    source, output = Path(source), Path(output)
    reference = Path(reference) if reference is not None else None
    with VideoReader(source) as reader:
        info = reader.info
    size = work_size(info.size, width)
    for path in (output, reference):
        if path is not None:
            _check_not_side_by_side(source, path, info.size)
    names = ["source", "output"] + (["reference"] if reference is not None else [])
    streams = [_frames(source, size), _frames(output, size)] + ([_frames(reference, size)] if reference else [])
    per_pair: dict[str, list] = {name: [] for name in names}
    squared_error, pairs, count = 0.0, 0, 0
    previous = None
    # "measuring", not the metric's name: a line with "error" in it reads as a failure in a log
    bar = tqdm(total=info.frames, unit="frame", desc="measuring", disable=not progress)
    sentinel = object()
    try:
        while True:
            current = [next(stream, sentinel) for stream in streams]
            ended = [name for name, frame in zip(names, current, strict=False) if frame is sentinel]
            if ended:
                if len(ended) != len(names):
                    lengths = {name: count + (0 if name in ended else 1) for name in names}
                    longer = [name for name in names if name not in ended]
                    raise LivestyleError(
                        f"the videos have different frame counts: {', '.join(ended)} ended after {count} frames while "
                        f"{', '.join(longer)} go on; compare a video with its own stylised version "
                        f"({', '.join(f'{k} ≥ {v}' for k, v in lengths.items())})")
                break
            arrays = cast(list[np.ndarray], current)  # none ended: every one is a frame
            frames = [frame.astype(np.float32) / 255 for frame in arrays]
            if reference is not None:
                squared_error += float(((frames[1] - frames[2]) ** 2).mean())
            grey = to_grey(arrays[0])
            if previous is not None:
                previous_grey, previous_frames = previous
                backward = farneback(grey, previous_grey)
                forward = farneback(previous_grey, grey)
                maps = sample_maps(backward)
                mask = reliable(backward, forward, maps, motion_boundaries=True)
                if mask.any():
                    for name, frame, before in zip(names, frames, previous_frames, strict=False):
                        difference = ((frame - warp(before, backward, maps)) ** 2).sum(axis=2)
                        per_pair[name].append(float(difference[mask].mean()))
                    pairs += 1
            previous = (grey, frames)
            count += 1
            bar.update(1)
    finally:  # before an error is printed, not in the middle of the bar's line
        bar.close()
    if count == 0:
        raise LivestyleError(f"{source}: has no video frames")
    result = {
        "frames": count, "pairs": pairs, "size": list(size), "flow": "farneback",
        "warping_error": {name: (float(np.mean(values)) if values else None) for name, values in per_pair.items()},
        "per_pair": per_pair,  # each frame pair's error (pairs with no trusted pixel are left out)
        "input": str(source), "output": str(output),
    }
    if reference is not None:
        mse = squared_error / count
        result["reference"] = str(reference)
        result["psnr_vs_reference_db"] = None if mse == 0 else 10 * math.log10(1 / mse)  # None: identical
    return result


def format_table(result: dict) -> list[str]:
    errors = result["warping_error"]
    floor = errors["source"]
    rows = [f"warping error over {result['pairs']} frame pairs at {result['size'][0]}x{result['size'][1]} "
            f"(Farneback flow on the source; lower is steadier)"]
    labels = {"source": "source (the floor)", "output": "output", "reference": "reference (unstabilised)"}
    for name, value in errors.items():
        if value is None:
            rows.append(f"  {labels[name]:<26} n/a (no frame pairs)")
            continue
        ratio = f"  {value / floor:6.1f}× the floor" if floor and name != "source" else ""
        rows.append(f"  {labels[name]:<26} {value:.5f}{ratio}")
    if "psnr_vs_reference_db" in result:
        psnr = result["psnr_vs_reference_db"]
        rows.append(f"fidelity: PSNR of output vs reference {'∞ (identical)' if psnr is None else f'{psnr:.2f}'} dB "
                    "(higher = closer to the unstabilised frames)")
    return rows


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m livestyle.video.metrics", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, metavar="IN", help="the source video")
    parser.add_argument("output", type=Path, metavar="OUT", help="its stylised version")
    parser.add_argument("--reference", type=Path, metavar="REF", help="the same video stylised without --stabilize: "
                        "adds fidelity (PSNR of OUT vs REF) and REF's warping error")
    parser.add_argument("--width", type=bounded_int(16, MAX_SIDE), default=DEFAULT_WIDTH,
                        help=f"measure at this width (default "
                        f"{DEFAULT_WIDTH}; the source's aspect ratio)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON (for scripts)")
    parser.add_argument("--per-frame", action="store_true", help="with --json: also each frame pair's error")
    return parser


def declare(args) -> Declaration:
    """The metrics read two or three videos and write nothing."""
    return Declaration("livestyle.video.metrics", {"IN": args.input, "OUT": args.output, "--reference": args.reference})


def main(argv=None) -> int:
    return run_command(build_parser(), argv, report, lambda error, args: describe(error, doing="cannot read"))


def report(args) -> int:
    result = measure(args.input, args.output, args.reference, args.width, progress=not args.json)
    if args.json:
        if not args.per_frame:
            result.pop("per_pair")
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(format_table(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
