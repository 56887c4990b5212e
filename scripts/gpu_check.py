"""All GPU checks of the current work in one call (for a lent GPU machine with a time budget).

  python scripts/gpu_check.py --out $OUT

1. training throughput, batch 1 fp32 and 16/64 bf16 (scripts/benchmark_train.py);
2. the full faces preset, default recipe, batch 64 + bf16, then its test evaluation;
3. the report's recipe at batch 1 for a fixed 2 minutes, its full-preset time extrapolated.
Writes OUT/gpu_check.json, OUT/benchmarks.md (the doc as updated there), the runs' eval.json,
metrics and test grids; prints a short table last.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(command: list[str], log: Path) -> float:
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.run(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    tail = log.read_text().splitlines()[-12:]
    print("\n".join(line[-200:] for line in tail), flush=True)
    if process.returncode:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report-minutes", type=float, default=2.0)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, to check this script itself on a CPU before spending GPU time")
    args = parser.parse_args()
    tiny = ["--image-size", "32", "--g-features", "8", "--d-features", "8", "--limit", "64",
            "--epochs", "2"] if args.smoke else []
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    logs = REPO / "runs" / "gpu-check-logs"
    logs.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    results = {}

    results["benchmark_seconds"] = run([python, "scripts/benchmark_train.py", "--batches", "1,16,64",
                                        "--seconds", "6", *(["--image-size", "32", "--no-write"] if args.smoke else [])],
                                       logs / "benchmark.log")

    # Generate the preset's data first so the training time below is training alone.
    started = time.perf_counter()
    size = 32 if args.smoke else 128
    subprocess.run([python, "-c", f"from training.synth import cached_dataset; cached_dataset('faces', 1000, {size}, 0)"],
                   cwd=REPO, check=True)
    results["synth_seconds"] = time.perf_counter() - started

    fast = REPO / "runs" / "gpu-faces-default-b64"
    report = REPO / "runs" / "gpu-faces-report-b1"
    for stale in (fast, report):
        shutil.rmtree(stale, ignore_errors=True)
    results["default_b64_seconds"] = run([python, "-m", "training.fit", "faces", "--batch-size", "64", "--amp",
                                          "--run-dir", str(fast), "--save-every-minutes", "60", *tiny], logs / "default_b64.log")
    results["default_b64_eval"] = json.loads((fast / "eval.json").read_text())

    results["report_b1_seconds"] = run([python, "-m", "training.fit", "faces", "--recipe", "report",
                                        "--time-limit-minutes", str(args.report_minutes), "--run-dir", str(report),
                                        "--save-every-minutes", "60", *tiny], logs / "report_b1.log")
    results["report_b1_eval"] = json.loads((report / "eval.json").read_text())
    position = [json.loads(line) for line in (report / "metrics.jsonl").read_text().splitlines()][-1]
    steps_done = position["step"]
    full_steps = 800 * 36  # Table 1: 800 training pairs per epoch at batch 1, 36 epochs
    results["report_b1_steps"] = steps_done
    results["report_b1_full_preset_extrapolated_minutes"] = args.report_minutes * full_steps / steps_done

    (out / "logs.txt").write_text("".join(f"===== {log.name}\n{log.read_text()}\n" for log in sorted(logs.glob("*.log"))))
    (out / "gpu_check.json").write_text(json.dumps(results, indent=2))
    shutil.copy(REPO / "docs" / "benchmarks.md", out / "benchmarks.md")
    for name, run_dir in (("default_b64", fast), ("report_b1", report)):
        shutil.copy(run_dir / "test_grid.png", out / f"{name}_test_grid.png")
        shutil.copy(run_dir / "metrics.jsonl", out / f"{name}_metrics.jsonl")

    def oracle(evaluation, direction="game2movie"):
        row = evaluation["oracle"][direction]
        return (f"{row['model']['ssim']:.3f} / {row['model']['psnr']:.2f} dB "
                f"(nothing {row['do_nothing']['ssim']:.3f} / {row['do_nothing']['psnr']:.2f} dB)")

    print("\n| check | time | game→movie oracle SSIM / PSNR |\n|---|---|---|")
    print(f"| faces, default recipe, batch 64 bf16, full preset | {results['default_b64_seconds']:.0f} s | "
          f"{oracle(results['default_b64_eval'])} |")
    print(f"| faces, report recipe, batch 1, {args.report_minutes:g} min ({steps_done} steps) | "
          f"{results['report_b1_seconds']:.0f} s; full preset ≈ "
          f"{results['report_b1_full_preset_extrapolated_minutes']:.0f} min (extrapolated) | "
          f"{oracle(results['report_b1_eval'])} |")
    print(f"| synthetic faces set, 1000/domain at {size} px | {results['synth_seconds']:.0f} s | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
