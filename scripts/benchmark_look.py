"""How fast a film look runs on each CPU backend, and its grain: livestyle.Stylizer (a game-like BGR frame
in, the picture out, at the inference size) for the bundled demo look (colour only, the effects it learnt
are under a level) and for a look with every effect on (soft focus, bloom, vignette), at 640×360,
960×540 and 1280×720, on one thread (the live app's default on 2 cores) and on all cores; plus the grain
the app draws on top. Also the largest difference from torch-cpu in levels of 255. Results go to the
benchmark pages (docs/benchmarks/, section look-speed) unless --no-write.

  python scripts/benchmark_look.py
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

from devtools.benchmark_doc import declared_main, machine, page_output, update_section
from livestyle.core.declared import Declaration
from livestyle.model.film import FilmLook
from livestyle.model.loaded import load_model
from livestyle.runtime.grain import FilmGrain
from livestyle.runtime.stylizer import Stylizer
from livestyle.runtime.timing import median_ms

DEMO = "livestyle/assets/demo_game2movie.safetensors"
SIZES = ((640, 360), (960, 540), (1280, 720))
BACKENDS = ("opencv", "onnxruntime", "torch-cpu")
SECTION = "look-speed"


def game_frame(width: int, height: int) -> np.ndarray:
    """Noise over the whole range, a flat patch, a lamp and a dark bar: BGR uint8."""
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(120, 60, (height, width, 3)), 0, 255).astype(np.uint8)
    frame[height // 4:height // 2, width // 5:width // 2] = (220, 160, 40)
    frame[height // 8:height // 8 + 6, 3 * width // 4:3 * width // 4 + 10] = 255
    return frame


def every_effect() -> FilmLook:
    film = load_model(DEMO).module
    strong = FilmLook()
    strong.load_state_dict(film.state_dict())
    with torch.no_grad():
        strong.soft_focus.fill_(0.5)
        strong.bloom_tint.copy_(torch.tensor([0.6, 0.3, 0.1]))
        strong.vignette.fill_(0.6)
    return strong.eval()


def row(name: str, model, size: tuple[int, int], threads: int) -> str:
    frame = game_frame(*size)
    pictures, cells = {}, []
    for backend in BACKENDS:
        stylizer = Stylizer(model, backend, size=size, threads=threads, log=lambda *_: None)
        try:
            cells.append(f"{median_ms(lambda: stylizer(frame)):.1f}")  # noqa: B023 — called here, not later
            pictures[backend] = stylizer(frame).astype(int)
        finally:
            stylizer.close()
    worst = max(int(np.abs(pictures[b] - pictures["torch-cpu"]).max()) for b in BACKENDS)
    grain = FilmGrain(0.046)
    picture = pictures["opencv"].astype(np.uint8)
    cells.append(f"{median_ms(lambda: grain(picture)):.1f}")
    return f"| {name} | {size[0]}x{size[1]} | {threads} | " + " | ".join(cells) + f" | {worst} |"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks/ alone")
    return parser


def declare(args) -> Declaration:
    """It reads the demo look and writes only its section of the benchmark pages (unless --no-write): the
    backends are named, not timed for a choice, so the backend cache is left alone."""
    page = () if args.no_write else (page_output(SECTION),)
    return Declaration("benchmark_look", {"the demo look": DEMO}, page)


def main(argv=None) -> int:
    return declared_main(argv, build_parser, declare, measure)


def measure(args) -> int:
    """Every row, printed as it is measured, then (unless --no-write) the section; the exit code."""
    cores = os.cpu_count() or 1
    rows = ["| look | size | threads | opencv ms | onnxruntime ms | torch-cpu ms | grain ms | max difference from "
            "torch-cpu (levels) |", "|---|---|---|---|---|---|---|---|"]
    for name, model in (("demo look", DEMO), ("every effect on", every_effect())):
        for size in SIZES:
            for threads in sorted({1, cores}):
                rows.append(row(name, model, size, threads))
                print(rows[-1], flush=True)
    if not args.no_write:
        body = (f"## A film look on the CPU (`scripts/benchmark_look.py`)\n\n{machine()}. `livestyle.Stylizer` on a "
                "game-like frame (BGR in, the picture out at the inference size), median ms per frame; the demo look "
                "(its learnt effects are under a level, so opencv skips them) and the same look with soft focus, "
                "bloom and vignette on; grain: what the app draws on top (amount 0.046, the demo's). `auto` times "
                "the backends the same way and takes the fastest.\n\n" + "\n".join(rows))
        print(f"\nwrote {update_section(SECTION, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
