"""Training throughput in image pairs per second (one pair = one game + one movie image through
a full generator and discriminator update), for the real networks and losses.

  python scripts/benchmark_train.py                 # CPU: batch 1 and 16 at 128 px
  python scripts/benchmark_train.py --batches 1,16,64   # on a CUDA GPU: bf16 for batch > 1

Results go to docs/benchmarks/ (section benchmark_train-<device>) unless --no-write.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from devtools.benchmark_doc import declared_main, machine, page_output, update_section
from livestyle.core.declared import Declaration
from training.config import make_config
from training.fit import Environment, Nets, train_step
from training.losses import StructuralSimilarity


def measure(batch: int, image_size: int, amp: bool, device: str, seconds: float) -> dict:
    config = make_config("faces", device=device, amp=amp, image_size=image_size)
    env = Environment(config)
    if env.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    nets = Nets(config, env)
    structural = StructuralSimilarity(image_size)
    game = (torch.rand(batch, 3, image_size, image_size, device=env.device) * 2 - 1).contiguous(
        memory_format=env.memory_format)
    movie = (torch.rand(batch, 3, image_size, image_size, device=env.device) * 2 - 1).contiguous(
        memory_format=env.memory_format)

    def synchronize():
        if env.device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):  # warm-up: cuDNN autotuning, allocator
        train_step(nets, game, movie, config, env, structural)
    synchronize()
    steps, started = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - started < seconds:
        train_step(nets, game, movie, config, env, structural)
        steps += 1
        if env.device.type == "cuda" and steps % 10:
            continue
        synchronize()
    synchronize()
    elapsed = time.perf_counter() - started
    memory = torch.cuda.max_memory_allocated() / 2**30 if env.device.type == "cuda" else None
    return {"batch": batch, "precision": "bf16" if env.amp else "fp32", "steps": steps,
            "seconds_per_step": elapsed / steps, "pairs_per_second": batch * steps / elapsed,
            "peak_gpu_memory_gib": memory}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batches", default=None, help="comma list (default: 1,16 on CPU; 1,16,64 on CUDA)")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per configuration")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks/ alone")
    return parser


def on_cuda(args) -> bool:
    return args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())


def declare(args) -> Declaration:
    """Random images in memory: it writes only its section of the benchmark pages (unless --no-write)."""
    page = () if args.no_write else (page_output(f"benchmark_train-{'cuda' if on_cuda(args) else 'cpu'}"),)
    return Declaration("benchmark_train", {}, page)


def main(argv=None) -> int:
    return declared_main(argv, build_parser, declare, measure_all)


def measure_all(args) -> int:
    """Each batch size measured and printed, then (unless --no-write) the section; the exit code."""
    cuda = on_cuda(args)
    batches = [int(b) for b in (args.batches or ("1,16,64" if cuda else "1,16")).split(",")]
    rows = []
    for batch in batches:
        result = measure(batch, args.image_size, amp=cuda and batch > 1, device="cuda" if cuda else "cpu",
                         seconds=args.seconds)
        rows.append(result)
        print(f"batch {batch:3d} {result['precision']}: {result['pairs_per_second']:8.1f} pairs/s "
              f"({result['seconds_per_step'] * 1000:.1f} ms/step)", flush=True)
    lines = [f"## Training throughput ({'CUDA' if cuda else 'CPU'}, {args.image_size}×{args.image_size})",
             "", f"`python scripts/benchmark_train.py{' --batches ' + args.batches if args.batches else ''}` — "
             f"{machine()}. Default recipe, full-size networks (G 64 / D 32 features), random images, "
             f"≥{args.seconds:g} s timed after 3 warm-up steps.", "",
             "| batch | precision | pairs/s | ms/step | peak GPU memory |", "|---|---|---|---|---|"]
    for r in rows:
        memory = f"{r['peak_gpu_memory_gib']:.1f} GiB" if r["peak_gpu_memory_gib"] is not None else "—"
        lines.append(f"| {r['batch']} | {r['precision']} | {r['pairs_per_second']:.1f} | "
                     f"{r['seconds_per_step'] * 1000:.1f} | {memory} |")
    if not args.no_write:
        path = update_section(f"benchmark_train-{'cuda' if cuda else 'cpu'}", "\n".join(lines))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
