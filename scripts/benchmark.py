"""Inference speed of every backend at several resolutions: the network alone, and a whole frame
in → frame out (a 1920×1080 BGRA screen-capture frame resized, converted, stylised and converted
back to BGR at the inference size), median and p95 ms/frame, with convolution FLOP/s.

  python scripts/benchmark.py                                   # GPU: all sizes; CPU-only: 320x184, 640x360
  python scripts/benchmark.py --sizes 640x360 --repeats 20 --backends torch-cpu,onnxruntime
  python scripts/benchmark.py --weights runs/<run>/game2movie.safetensors   # uses its built engines too
  python scripts/benchmark.py --architecture both --features 16 --sizes 640x360,1280x720,1920x1080
                                                                # plain vs pyramid, same GANimorph

Without --weights the network is the report-size generator (--features 64) with random weights
(speed does not depend on the values); TensorRT then has no engine and is left empty — build one
with scripts/build_engine.py and pass --weights. A backend that cannot run leaves its numbers
empty with the reason. --architecture pyramid|both times a PyramidGenerator (--pyramid-levels)
around the same GANimorph instead of, or beside, the plain one. Results go to docs/benchmarks/
(section benchmark_inference; benchmark_pyramid for --architecture pyramid|both) unless --no-write.
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from devtools.benchmark_doc import machine as machine_line
from devtools.benchmark_doc import page_output, update_section
from livestyle.core.declared import Declaration
from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import format_size, parse_size
from livestyle.model.generator import Generator, make_pyramid
from livestyle.model.loaded import Model, load_model
from livestyle.runtime.backends import NAMES, open_backend, unavailable
from livestyle.runtime.machine import probe
from livestyle.runtime.stylizer import Stylizer

ALL_SIZES = "320x184,640x360,1280x720,1920x1080"
CPU_SIZES = "320x184,640x360"
CAPTURE = (1920, 1080)


def time_calls(call, repeats: int, warmup: int = 2) -> dict:
    """Median and p95 wall-clock ms of `call` (which must finish its work, GPU included)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95)), "runs": repeats}


def conv_flops(module: torch.nn.Module, size: tuple[int, int]) -> int:
    """FLOPs of one forward pass (torch's counter: convolutions, 2 per multiply-add), counted on the meta device."""
    import copy

    from torch.utils.flop_counter import FlopCounterMode

    meta = copy.deepcopy(module).to("meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(torch.empty(1, 3, size[1], size[0], device="meta"))
    return counter.get_total_flops()


def rate(flops: int, ms: float | None) -> str:
    if not ms:
        return ""
    per_second = flops / (ms / 1000)
    return f"{per_second / 1e12:.2f} TFLOP/s" if per_second >= 1e12 else f"{per_second / 1e9:.1f} GFLOP/s"


def measure(name, model, size, machine, args, capture) -> dict:
    row = {"backend": name, "size": format_size(size)}
    reason = unavailable(name, machine)
    if reason:
        row["reason"] = reason
        return row
    try:
        backend = open_backend(name, model, size, machine, engines_dir=args.engines, threads=args.threads,
                               log=lambda message: print(f"  {message}", flush=True))
    except LivestyleError as error:
        row["reason"] = str(error).removeprefix(f"{name}: ")
        return row
    try:
        stylizer = Stylizer.from_backend(backend)
        backend.input.uniform_(-1, 1)
        row["detail"] = backend.detail
        row["model"] = time_calls(stylizer.run_model, args.repeats)
        row["frame"] = time_calls(lambda: stylizer(capture), args.repeats)
    finally:
        backend.close()
    return row


def build_parser() -> argparse.ArgumentParser:
    """The command line: sizes, backends, the network to time and where the results go."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help=f"comma list of WIDTHxHEIGHT (default: {ALL_SIZES} with a GPU, "
                        f"{CPU_SIZES} without)")
    parser.add_argument("--repeats", type=int, help="timed runs per measurement (default 50 with a GPU, 5 without)")
    parser.add_argument("--features", type=int, default=64, help="generator width N without --weights (default 64)")
    parser.add_argument("--architecture", choices=("plain", "pyramid", "both"), default="plain",
                        help="without --weights: the plain generator (default), a pyramid around it, or both")
    parser.add_argument("--pyramid-levels", type=int, default=3, help="levels of the pyramid (default 3)")
    parser.add_argument("--weights", type=Path, help="game2movie.safetensors: benchmark it (and its built engines)")
    parser.add_argument("--backends", default=",".join(NAMES), help="comma list (default: all)")
    parser.add_argument("--engines", type=Path, default=Path("engines"))
    parser.add_argument("--threads", type=int, help="CPU threads for torch-cpu and onnxruntime (default: all cores)")
    parser.add_argument("--note", default="", help="a sentence added to the section (e.g. other load on the machine)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks/ alone")
    return parser


def section_name(args) -> str:
    """benchmark_pyramid when the pyramid is timed (alone or beside the plain generator), else benchmark_inference."""
    return "benchmark_inference" if args.architecture == "plain" else "benchmark_pyramid"


def declare(args) -> Declaration:
    """It reads --weights and the engines built for them, and writes only its section of the benchmark pages
    (unless --no-write): the backends are opened by name, never timed into the backend cache."""
    page = () if args.no_write else (page_output(section_name(args)),)
    return Declaration("benchmark", {"--weights": args.weights, "--engines": args.engines}, page)


def load_models(args) -> list[tuple[str, Model]]:
    """(label, model) of each network to time: the --weights, else the plain and/or pyramid generator."""
    if args.weights:
        return [(args.weights.name, load_model(args.weights))]
    models = []
    if args.architecture in ("plain", "both"):
        models.append((f"plain N={args.features}", load_model(Generator(features=args.features))))
    if args.architecture in ("pyramid", "both"):
        pyramid = make_pyramid(features=args.features, levels=args.pyramid_levels)
        models.append((f"pyramid L{args.pyramid_levels} N={args.features}", load_model(pyramid)))
    return models


def measure_all(sizes, models, names, machine, args, capture) -> list[dict]:
    """One row per size × network × backend (see `measure`), each printed as it is measured."""
    rows = []
    for size in sizes:
        for label, model in models:
            flops = conv_flops(model.module, size)
            for name in names:
                print(f"{name} at {format_size(size)}, {label} ...", flush=True)
                row = measure(name, model, size, machine, args, capture)
                row.update(flops=flops, network=label)
                rows.append(row)
                if "model" in row:
                    print(f"  model {row['model']['median_ms']:.1f} ms, frame {row['frame']['median_ms']:.1f} ms "
                          f"({row['detail']})", flush=True)
                else:
                    print(f"  {row['reason']}", flush=True)
    return rows


def results_table(rows: list[dict], compare: bool) -> list[str]:
    """The Markdown table of `rows`, with a network column first when `compare`."""
    first = "| network " if compare else ""
    table = [f"{first}| backend | size | model ms (median / p95) | frame in→out ms (median / p95) | GFLOP/frame | "
             "model FLOP/s | notes |", f"{'|---' if compare else ''}|---|---|---|---|---|---|---|"]
    for row in rows:
        gflop = f"{row['flops'] / 1e9:.3g}"
        start = f"| {row['network']} " if compare else ""
        if "model" in row:
            model_ms = f"{row['model']['median_ms']:.1f} / {row['model']['p95_ms']:.1f}"
            frame_ms = f"{row['frame']['median_ms']:.1f} / {row['frame']['p95_ms']:.1f}"
            table.append(f"{start}| {row['backend']} | {row['size']} | {model_ms} | {frame_ms} | {gflop} | "
                         f"{rate(row['flops'], row['model']['median_ms'])} | {row['detail']} |")
        else:
            table.append(f"{start}| {row['backend']} | {row['size']} |  |  | {gflop} |  | {row['reason']} |")
    return table


def shown_command(argv) -> str:
    """The command line as the section shows it: without --note (printed below it) and --no-write."""
    shown = list(argv if argv is not None else sys.argv[1:])
    for flag in ("--note", "--no-write"):  # the note is printed below the command, not inside it
        if flag in shown:
            index = shown.index(flag)
            del shown[index: index + (2 if flag == "--note" else 1)]
    return shlex.join(["python", "scripts/benchmark.py", *shown])


def section_lines(args, argv, machine, sizes, models, compare: bool, table: list[str]) -> list[str]:
    """The docs/benchmarks/ section: title, what was measured and how, the note, then `table`."""
    command = shown_command(argv)
    skipped = [s for s in ALL_SIZES.split(",") if parse_size(s) not in sizes]
    what = (f"weights {args.weights}" if args.weights else
            f"Generator N={args.features} ({'report size, ' if args.features == 64 else ''}random weights)")
    if compare and not args.weights:
        what = (f"{' and '.join(label for label, _ in models)} (random weights; the pyramid's GANimorph is the same "
                f"N={args.features} network, run at 1/{2 ** args.pyramid_levels} of the size)")
    title = ("## Plain vs pyramid generator (`scripts/benchmark.py --architecture`)" if compare
             else "## Inference speed (`scripts/benchmark.py`)")
    lines = [title, "",
             f"`{command}` — {machine_line()}. {what}, batch 1, {args.repeats} timed runs after 2 warm-up runs "
             f"(p95 of so few runs is close to the slowest). *Model*: the network alone on a filled input buffer. "
             f"*Frame in→out*: a {CAPTURE[0]}×{CAPTURE[1]} BGRA frame (what screen capture yields) resized, "
             f"converted, stylised and converted back to BGR at the inference size. FLOPs: torch's counter "
             f"(convolutions, 2 per multiply-add) once per size; FLOP/s uses the model median. Empty cells: "
             f"the backend cannot run here, for the reason given."]
    if skipped:
        lines.append("")
        lines.append(f"Sizes not measured in this run: {', '.join(skipped)}"
                     + (" — on a CPU-only machine the default run keeps to the two small sizes so it finishes in "
                        "minutes (pass --sizes to add them)." if not machine.gpu else "."))
    if args.note:
        lines += ["", args.note]
    lines += ["", *table]
    return lines


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        declare(args).check()
        machine = probe()
        sizes = [parse_size(s, "--sizes") for s in (args.sizes or (ALL_SIZES if machine.gpu else CPU_SIZES)).split(",")]
        models = load_models(args)
        names = args.backends.split(",")
        for name in names:
            unavailable(name, machine)  # unknown names raise
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.repeats = args.repeats or (50 if machine.gpu else 5)
    capture = np.random.default_rng(0).integers(0, 256, (CAPTURE[1], CAPTURE[0], 4), dtype=np.uint8)
    rows = measure_all(sizes, models, names, machine, args, capture)
    compare = len(models) > 1 or args.architecture != "plain"
    table = results_table(rows, compare)
    print("\n" + "\n".join(table))
    if args.no_write:
        return 0
    lines = section_lines(args, argv, machine, sizes, models, compare, table)
    try:
        print(f"\nwrote {update_section(section_name(args), chr(10).join(lines))}")
    except LivestyleError as error:  # the page could not be written
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
