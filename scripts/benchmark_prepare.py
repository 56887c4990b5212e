"""Decoding throughput of `python -m training.prepare` on a 720p H.264 clip, in frames per second.

  python scripts/benchmark_prepare.py              # 10 s of 1280x720 30 fps H.264 (MPEG-TS)
  python scripts/benchmark_prepare.py --no-write   # print only

Writes a synthetic clip with PyAV (moving gradients and shapes, libx264 preset "fast" with
B-frames), then times the counting pass (every frame decoded: with the 12x12 thumbnails the
`frames` mode keeps, and without, as in `faces` mode) and a whole `frames` preparation that uses
the clip for both domains. Results go to docs/benchmarks/ (section benchmark_prepare) unless
--no-write.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from devtools.benchmark_doc import declared_main, machine, page_output, scratch_folder, scratch_output, update_section
from livestyle.core.declared import Declaration
from training import prepare

SECTION = "benchmark_prepare"


def write_clip(path: Path, seconds: float, width: int, height: int, fps: int = 30) -> int:
    frames = int(seconds * fps)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "fast"}
        for i in tqdm(range(frames), desc="write clip", unit="frame"):
            wave = np.sin(xx / 90 + i / 9) + np.cos(yy / 70 - i / 13)
            image = np.dstack([wave * 50 + 110, np.roll(wave, 4 * i, 1) * 40 + 120, 150 - wave * 45])
            for k in range(6):  # shapes that move at their own speeds
                x = int((k * 211 + i * (3 + k)) % (width - 160))
                y = int((k * 97 + i * (2 + k % 3)) % (height - 120))
                image[y:y + 120, x:x + 160] = (40 * k % 255, 255 - 30 * k, 90 + 20 * k)
            image += rng.normal(0, 2, image.shape[:2])[..., None]  # a little sensor noise
            picture = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), format="bgr24")
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return frames


def time_scan(path: Path, thumbs: bool, repeats: int) -> tuple[int, float]:
    best = float("inf")
    for _ in range(repeats):
        source = prepare.Source(path)
        started = time.perf_counter()
        with tqdm(disable=True) as bar:
            prepare.scan(source, thumbs, bar)
        best = min(best, time.perf_counter() - started)
    return source.frames, best


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--count", type=int, default=30,
                        help="frames per domain to prepare (default 30: one per 1/3 s, as 1500 from 8 minutes)")
    parser.add_argument("--repeats", type=int, default=2, help="best of N timings of each pass (default 2)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks/ alone")
    return parser


def declare(args) -> Declaration:
    """The clip and the data set prepared from it go to a scratch folder (removed at the end); the table to its
    section of the benchmark pages unless --no-write."""
    page = () if args.no_write else (page_output(SECTION),)
    return Declaration("benchmark_prepare", {}, (scratch_output(), *page))


def main(argv=None) -> int:
    return declared_main(argv, build_parser, declare, measure)


def measure(args) -> int:
    """The clip written and decoded, the table printed and (unless --no-write) filed; the exit code."""
    with scratch_folder("benchmark-prepare-") as folder:
        clip = folder / "clip720p.ts"
        write_clip(clip, args.seconds, 1280, 720)
        frames, plain = time_scan(clip, False, args.repeats)
        _, with_thumbs = time_scan(clip, True, args.repeats)
        started = time.perf_counter()
        prepare.prepare("frames", [str(clip)], [str(clip)], folder / "data", args.count, progress=False)
        full = time.perf_counter() - started

    lines = [
        "## Decoding throughput of `training.prepare`",
        "",
        f"`python scripts/benchmark_prepare.py`: {machine()}.",
        f"Clip: {frames} frames of 1280x720 H.264 (libx264 preset fast, B-frames) in MPEG-TS, "
        f"{args.seconds:g} s at 30 fps, synthetic moving content; PyAV {av.__version__}, threads auto.",
        "",
        "| pass | frames | seconds | frames/s |",
        "|---|---|---|---|",
        f"| counting pass (decode every frame; `faces` mode) | {frames} | {plain:.2f} | {frames / plain:.0f} |",
        f"| counting pass + 12x12 thumbnails (`frames` mode) | {frames} | {with_thumbs:.2f} | "
        f"{frames / with_thumbs:.0f} |",
        f"| whole `frames` preparation, clip as both domains, --count {args.count} "
        f"(2 domains x (counting + extraction pass), PNG writing) | {2 * frames} | {full:.2f} | "
        f"{2 * frames / full:.0f} footage frames/s |",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        path = update_section(SECTION, markdown)
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
