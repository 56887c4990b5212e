"""All GPU checks of the current work in one call (for a lent GPU machine with a time budget).

  python scripts/gpu_check.py --out $OUT --checks recipes --recipes residual-cg,cycle-lsgan
  python scripts/gpu_check.py --out /tmp/x --smoke      # tiny sizes: test this script on a CPU first

Checks:
  train    training throughput (batch 1 fp32, 16/64 bf16); the full faces preset with the default
           recipe at batch 64 + bf16; the report's recipe at batch 1 for a fixed 2 minutes, its
           full-preset time extrapolated.
  recipes  the study's chosen configurations (training.study names) on the full faces and
           frames presets at batch 64 + bf16, all runs side by side on the one GPU, each stopped
           by --minutes if it has not finished (then labelled partial).
Writes OUT/gpu_check.json, OUT/logs.txt, OUT/benchmarks.md (train) and the runs' test grids;
prints a short table last.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LOGS = REPO / "runs" / "gpu-check-logs"


def run(command: list[str], log: Path) -> float:
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.run(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    print("\n".join(line[-200:] for line in log.read_text().splitlines()[-6:]), flush=True)
    if process.returncode:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    return elapsed


def generate_data(kinds: list[str], size: int) -> float:
    from training.fit import PRESETS

    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-c", f"from training.synth import cached_dataset; "
                                   f"cached_dataset('{kind}', {PRESETS[kind]['count']}, {size}, 0)"], cwd=REPO)
                 for kind in kinds]
    if any(p.wait() for p in processes):
        raise SystemExit("data generation failed")
    return time.perf_counter() - started


def oracle_text(evaluation: dict, direction: str = "game2movie") -> str:
    row = evaluation["oracle"][direction]
    return (f"{row['model']['ssim']:.3f} / {row['model']['psnr']:.2f} dB "
            f"(nothing {row['do_nothing']['ssim']:.3f} / {row['do_nothing']['psnr']:.2f} dB)")


def check_train(args, out: Path, tiny: list[str], size: int) -> dict:
    python, results = sys.executable, {}
    results["benchmark_seconds"] = run([python, "scripts/benchmark_train.py", "--batches", "1,16,64", "--seconds", "6",
                                        *(["--image-size", "32", "--no-write"] if args.smoke else [])],
                                       LOGS / "benchmark.log")
    results["synth_seconds"] = generate_data(["faces"], size)
    fast, report = REPO / "runs" / "gpu-faces-default-b64", REPO / "runs" / "gpu-faces-report-b1"
    for stale in (fast, report):
        shutil.rmtree(stale, ignore_errors=True)
    results["default_b64_seconds"] = run([python, "-m", "training.fit", "faces", "--batch-size", "64", "--amp",
                                          "--run-dir", str(fast), "--save-every-minutes", "60", *tiny],
                                         LOGS / "default_b64.log")
    results["default_b64_eval"] = json.loads((fast / "eval.json").read_text())
    results["report_b1_seconds"] = run([python, "-m", "training.fit", "faces", "--recipe", "report",
                                        "--time-limit-minutes", str(args.minutes), "--run-dir", str(report),
                                        "--save-every-minutes", "60", *tiny], LOGS / "report_b1.log")
    results["report_b1_eval"] = json.loads((report / "eval.json").read_text())
    steps_done = [json.loads(line) for line in (report / "metrics.jsonl").read_text().splitlines()][-1]["step"]
    results["report_b1_steps"] = steps_done
    results["report_b1_full_preset_extrapolated_minutes"] = args.minutes * 800 * 36 / steps_done
    shutil.copy(REPO / "docs" / "benchmarks.md", out / "benchmarks.md")
    for name, run_dir in (("default_b64", fast), ("report_b1", report)):
        shutil.copy(run_dir / "test_grid.png", out / f"{name}_test_grid.png")
    results["table"] = [
        f"| faces, default recipe, batch 64 bf16, full preset | {results['default_b64_seconds']:.0f} s | "
        f"{oracle_text(results['default_b64_eval'])} |",
        f"| faces, report recipe, batch 1, {args.minutes:g} min ({steps_done} steps) | "
        f"{results['report_b1_seconds']:.0f} s; full preset ≈ "
        f"{results['report_b1_full_preset_extrapolated_minutes']:.0f} min (extrapolated) | "
        f"{oracle_text(results['report_b1_eval'])} |"]
    return results


def check_recipes(args, out: Path, tiny: list[str], size: int) -> dict:
    from training.study import CONFIGURATIONS

    names = args.recipes.split(",")
    unknown = [n for n in names if n not in CONFIGURATIONS]
    if unknown:
        raise SystemExit(f"--recipes: unknown {unknown}; choose from {', '.join(CONFIGURATIONS)}")
    kinds = ["faces", "frames"]
    results = {"synth_seconds": generate_data(kinds, size), "runs": {}}
    jobs = {}
    threads = str(max(1, (os.cpu_count() or 4) // (len(names) * len(kinds))))
    started = time.perf_counter()
    for name in names:
        for kind in kinds:
            run_dir = REPO / "runs" / f"gpu-{kind}-{name}"
            shutil.rmtree(run_dir, ignore_errors=True)
            command = [sys.executable, "-m", "training.fit", kind, *CONFIGURATIONS[name][0], "--batch-size", "64",
                       "--amp", "--seed", "0", "--time-limit-minutes", str(args.minutes), "--run-dir", str(run_dir),
                       "--save-every-minutes", "60", *tiny]
            log = open(LOGS / f"{kind}-{name}.log", "w")
            jobs[(kind, name)] = (subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                                   env={**os.environ, "OMP_NUM_THREADS": threads}), run_dir)
    for (kind, name), (process, run_dir) in jobs.items():
        code = process.wait()
        seconds = time.perf_counter() - started
        if code:
            raise SystemExit(f"{kind} {name} failed; see logs.txt")
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        results["runs"][f"{kind}-{name}"] = {
            "seconds": seconds, "epochs_done": records[-1]["epoch"] - (1 if records[-1].get("partial_epoch") else 0),
            "steps": records[-1]["step"], "partial": bool(records[-1].get("partial_epoch")),
            "eval": json.loads((run_dir / "eval.json").read_text())}
        shutil.copy(run_dir / "test_grid.png", out / f"{kind}-{name}_test_grid.png")
    results["table"] = []
    for key, r in results["runs"].items():
        full = "full preset" if not r["partial"] else f"stopped at {args.minutes:g} min after {r['epochs_done']} epochs"
        results["table"].append(f"| {key}, batch 64 bf16, {full} ({r['steps']} steps) | {r['seconds']:.0f} s | "
                                f"{oracle_text(r['eval'])} | {oracle_text(r['eval'], 'movie2game')} |")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--checks", default="recipes", help="comma list of: train, recipes")
    parser.add_argument("--recipes", default="residual-cg,cycle-lsgan", help="training.study configuration names")
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="time limit per training run (train: the report run; recipes: each run)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, to check this script itself on a CPU before spending GPU time")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    tiny = ["--image-size", "32", "--g-features", "8", "--d-features", "8", "--limit", "64",
            "--epochs", "2"] if args.smoke else []
    size = 32 if args.smoke else 128
    checks = {"train": check_train, "recipes": check_recipes}
    results = {}
    for name in args.checks.split(","):
        if name not in checks:
            raise SystemExit(f"--checks: unknown {name!r}; choose from {', '.join(checks)}")
        results[name] = checks[name](args, out, tiny, size)
    (out / "logs.txt").write_text("".join(f"===== {log.name}\n{log.read_text()}\n" for log in sorted(LOGS.glob("*.log"))))
    (out / "gpu_check.json").write_text(json.dumps(results, indent=2))
    print("\n| run | time | game→movie oracle SSIM / PSNR | movie→game |\n|---|---|---|---|")
    for result in results.values():
        print("\n".join(result["table"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
