"""How closely a baked .cube reproduces a colour look: ffmpeg's lut3d filter (trilinear and tetrahedral)
over a real-looking frame against the look run by torch, for random looks of three strengths at 33 and 65
points. Results go to the benchmark pages (docs/benchmarks/, section look-cube-parity) unless --no-write.

  python scripts/benchmark_cube.py
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from devtools.benchmark_doc import declared_main, machine, page_output, scratch_folder, scratch_output, update_section
from livestyle.core.declared import Declaration
from livestyle.model.look import random_look
from livestyle.runtime.engines.cube import cube_text

SECTION = "look-cube-parity"


def frame() -> np.ndarray:
    """Noise over the whole range and smooth ramps: BGR uint8, 72×128."""
    rng = np.random.default_rng(0)
    picture = np.clip(rng.normal(120, 70, (72, 128, 3)), 0, 255).astype(np.uint8)
    picture[:, :64] = np.linspace(0, 255, 64).astype(np.uint8)[None, :, None]
    return picture


def difference(strength: float, points: int, interp: str, folder: Path) -> tuple[float, int]:
    """(mean, max) |ffmpeg lut3d − the look| in levels of 255."""
    look = random_look(5, strength=strength)
    cube, source, result = folder / "look.cube", folder / "in.png", folder / "out.png"
    cube.write_text(cube_text(look, points, "benchmark"))
    cv2.imwrite(str(source), frame())
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vf", f"format=rgb24,lut3d=file={cube}:"
                    f"interp={interp}", "-pix_fmt", "rgb24", str(result)], check=True, timeout=60)
    theirs = cv2.imread(str(result)).astype(int)
    rgb = torch.from_numpy(frame()[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ours = (look(rgb * 2 - 1) + 1) / 2
    ours_bgr = np.rint(ours[0].permute(1, 2, 0).numpy()[..., ::-1] * 255).astype(int)
    gap = np.abs(theirs - ours_bgr)
    return float(gap.mean()), int(gap.max())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks/ alone")
    return parser


def declare(args) -> Declaration:
    """The .cube files, frames and ffmpeg's pictures go to a scratch folder; the table to its section of the
    benchmark pages unless --no-write."""
    page = () if args.no_write else (page_output(SECTION),)
    return Declaration("benchmark_cube", {}, (scratch_output(), *page))


def main(argv=None) -> int:
    return declared_main(argv, build_parser, declare, measure)


def measure(args) -> int:
    """The table, printed and (unless --no-write) filed into its section; the exit code."""
    if shutil.which("ffmpeg") is None:
        print("error: ffmpeg is not installed (apt-get install ffmpeg)", file=sys.stderr)
        return 1
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    rows = ["| look strength | points | interpolation | mean levels | max levels |", "|---|---|---|---|---|"]
    with scratch_folder("benchmark_cube-") as folder:
        for strength in (0.5, 1.0, 1.5):
            for points in (33, 65):
                for interp in ("trilinear", "tetrahedral"):
                    mean, worst = difference(strength, points, interp, folder)
                    rows.append(f"| {strength:g} | {points} | {interp} | {mean:.2f} | {worst} |")
    print("\n".join(rows))
    if not args.no_write:
        body = (f"## A colour look as a .cube, read by ffmpeg (`scripts/benchmark_cube.py`)\n\n{machine()}; {version}. "
                "Random colour looks (`livestyle.model.look.random_look(5, strength)`: strength 0.5 is a moderate "
                "grade, 1.5 an extreme one) baked into a .cube and applied by ffmpeg's `lut3d` to a 128×72 frame of "
                "noise and ramps, against the look run by torch; |difference| in levels of 255. A look's clamps "
                "inside a lattice cell are what the table misses, so the error grows with the strength and shrinks "
                "with the points; `--format cube` writes 65.\n\n" + "\n".join(rows))
        print(f"\nwrote {update_section(SECTION, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
