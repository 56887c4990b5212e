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
  video    scripts/benchmark_video.py on the carried clips (data/benchmark-video/) with
           --backend torch-cuda: frames/s with and without --stabilize, 640x360 and 1280x720, and
           the warping error with --stabilize 0.5. With --smoke: a 2-second synthetic clip on torch-cpu.
  inference  torch-cuda at each --inference-sizes: the report-style fp32 eager network vs fp16
           channels_last in each --inference-modes (eager, CUDA graph, torch.compile + graph),
           ms/frame (network alone, median / p95), and the fp16 backend's parity with torch-cpu fp32
           (max abs difference on a random input). With --smoke on a CPU: N=8, tiny sizes, torch-cpu.
  pyramid  plain vs pyramid (issue 15): the inference check for a plain GANimorph N=16 (the demo size) and
           a 3-level PyramidGenerator around the same network, fp16 CUDA graph, at 1280x720 and 1920x1080
           (--inference-sizes), with the same parity check.
  oracle   the default recipe's full frames preset (batch 64 + bf16, stopped by --minutes) on the
           real-footage oracle real-supertux-teal-orange-other-levels (built on the machine from the
           committed clips), scored at the training size and at 640x360 (issue 14's GPU cell).
  faces    faces mode's crops on torch-cuda (issue 17): the bundled faces demo model (N=16, 64x64) and a
           report-size faces model (N=64, 128x128, untrained weights: speed only) at batch 1 and 4 (the
           fixed batch engines are built for), ms per pass (median of 50 after warm-up) and the largest
           difference from torch-cpu fp32 on the same crops (uint8 levels). With --smoke: torch-cpu, N=8.
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

from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import write_text

REPO = Path(__file__).resolve().parents[1]
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


def display_text(evaluation: dict) -> str:
    row = evaluation["display"]
    return (f"{row['model']['ssim']:.3f} / {row['model']['psnr']:.2f} dB / {row['model']['structure']:.3f} "
            f"(resized only {row['resized_only']['ssim']:.3f} / {row['resized_only']['psnr']:.2f} dB; nothing "
            f"{row['do_nothing']['ssim']:.3f} / {row['do_nothing']['psnr']:.2f} dB / "
            f"{row['do_nothing']['structure']:.3f})")


def check_oracle(args, out: Path, tiny: list[str], size: int) -> dict:
    """The default recipe's full frames preset on one real-footage oracle, scored at 640x360."""
    from training.oracle import cached_oracle

    started = time.perf_counter()
    data = cached_oracle("supertux", "teal-orange", "other-levels")
    results = {"oracle_build_seconds": time.perf_counter() - started, "data": str(data)}
    run_dir = REPO / "runs" / "gpu-real-supertux-default"
    shutil.rmtree(run_dir, ignore_errors=True)
    results["seconds"] = run([sys.executable, "-m", "training.fit", "frames", "--data", str(data), "--batch-size", "64",
                              "--amp", "--seed", "0", "--time-limit-minutes", str(args.minutes), "--run-dir",
                              str(run_dir), "--save-every-minutes", "60", *tiny], LOGS / "real-supertux-default.log")
    results["eval"] = json.loads((run_dir / "eval.json").read_text())
    for picture in ("test_grid.png", "display_grid.png"):
        shutil.copy(run_dir / picture, out / f"real-supertux-default_{picture}")
    results["header"] = ("| run | time | game→movie at the training size | game→movie shown at 640x360 |\n"
                         "|---|---|---|---|")
    results["table"] = [f"| real-supertux-teal-orange-other-levels, default recipe, frames preset, batch 64 bf16 | "
                        f"{results['seconds']:.0f} s | {oracle_text(results['eval'])} | "
                        f"{display_text(results['eval'])} |"]
    return results


def check_pyramid(args, out: Path, tiny: list[str], size: int) -> dict:
    """The inference check for the plain generator and a pyramid around it, side by side."""
    args.inference_modes = "graph"
    given = args.inference_sizes or "1280x720,1920x1080"
    results = {"header": "| network | size | fp32 eager ms | fp16 ms (median / p95) by mode | best | parity vs "
                         "torch-cpu (max abs) |\n|---|---|---|---|---|---|", "table": []}
    for architecture in ("plain", "pyramid"):
        # Smoke: tiny sizes, an odd one for the pyramid (the plain generator needs multiples of 8).
        smoke = "64x48,96x64" if architecture == "plain" else "64x48,97x61"
        args.inference_sizes = smoke if args.smoke else given
        result = check_inference(args, out, tiny, size, architecture=architecture, features=16)
        results[architecture] = result
        results["table"] += [f"| {architecture} N=16 {row}" for row in result["table"]]
    return results


def check_inference(args, out: Path, tiny: list[str], size: int, architecture: str = "plain",
                    features: int | None = None) -> dict:
    import torch
    from benchmark import conv_flops, time_calls

    from livestyle.core.sizes import format_size, parse_size
    from livestyle.model.generator import Generator, make_pyramid
    from livestyle.runtime.backends.torch_cpu import TorchCPUBackend
    from livestyle.runtime.engines.build import measure_parity
    from livestyle.runtime.stylizer import Stylizer

    cuda = torch.cuda.is_available()
    if not cuda and not args.smoke:
        raise SystemExit("inference: needs a CUDA GPU (--smoke runs this check on a CPU)")
    features, repeats = (8, 5) if args.smoke else (features or 64, 50)
    multiple = 8 if architecture == "plain" else 1
    sizes = [parse_size(s, multiple=multiple) for s in (args.inference_sizes or (
        "64x48,96x64" if args.smoke else "320x184,640x360,1280x720,1920x1080")).split(",")]
    modes = args.inference_modes.split(",")
    torch.manual_seed(0)
    # The report's architecture, or a pyramid around it; random weights time the same.
    module = (Generator(features=features) if architecture == "plain" else make_pyramid(features=features)).eval()
    results = {"features": features, "device": torch.cuda.get_device_name() if cuda else "cpu", "sizes": {},
               "table": [], "header": "| size | fp32 eager ms | fp16 ms (median / p95) by mode | best | "
                                     "parity vs torch-cpu (max abs) |\n|---|---|---|---|---|"}

    def timed(backend) -> dict:
        stylizer = Stylizer.from_backend(backend)
        backend.input.uniform_(-1, 1)
        result = time_calls(stylizer.run_model, repeats, warmup=3)
        result["detail"] = backend.detail
        return result

    for size in sizes:
        key, row = format_size(size), {"gflop": conv_flops(module, size) / 1e9}
        print(f"inference {key} ...", flush=True)
        if cuda:
            from livestyle.runtime.backends.torch_cuda import TorchCUDABackend

            backend = TorchCUDABackend(module, size, mode="eager", precision="fp32")
        else:
            backend = TorchCPUBackend(module, size, threads=1)  # smoke only: tiny sizes, no thread contention
        row["fp32_eager"] = timed(backend)
        backend.close()
        best, best_backend = None, None
        for mode in modes:
            if not cuda:
                row[f"fp16_{mode}"] = {"error": "no CUDA device"}
                continue
            try:
                backend = TorchCUDABackend(module, size, mode=mode, precision="fp16", log=print)
                row[f"fp16_{mode}"] = timed(backend)
            except Exception as error:  # noqa: BLE001 — report it, measure the rest
                row[f"fp16_{mode}"] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
                continue
            if best is None or row[f"fp16_{mode}"]["median_ms"] < row[f"fp16_{best}"]["median_ms"]:
                if best_backend is not None:
                    best_backend.close()
                best, best_backend = mode, backend
            else:
                backend.close()
        row["best_fp16"] = best
        checked = best_backend or (None if cuda else TorchCPUBackend(module, size, threads=1))  # smoke: CPU vs itself
        if checked is None:
            row["parity"] = {"max_abs_error": float("nan"), "passed": False, "error": "no fp16 mode ran"}
        else:
            row["parity"] = measure_parity(checked, module.float().cpu(), "cpu", size, 1, 5e-2)
            checked.close()
        results["sizes"][key] = row
        modes_text = ", ".join(f"{m} {row[f'fp16_{m}']['median_ms']:.2f} / {row[f'fp16_{m}']['p95_ms']:.2f}"
                               if "median_ms" in row[f"fp16_{m}"] else f"{m} —" for m in modes)
        results["table"].append(f"| {key} | {row['fp32_eager']['median_ms']:.2f} | {modes_text} | {best or '—'} | "
                                f"{row['parity']['max_abs_error']:.2e} |")
        print(results["table"][-1], flush=True)
    return results


def check_faces(args, out: Path, tiny: list[str], size: int) -> dict:
    import statistics

    import numpy as np
    import torch

    from livestyle.faces.crop import FACE_CROP, FACES_BATCH
    from livestyle.model.generator import Generator
    from livestyle.model.weights import save_generator
    from livestyle.runtime.selection import DEMO_FACES_MODEL
    from livestyle.runtime.stylizer import Stylizer

    cuda = torch.cuda.is_available() and not args.smoke
    backend = "torch-cuda" if cuda else "torch-cpu"
    report = out / "report-size-faces.safetensors"
    torch.manual_seed(0)
    features, side = (8, 32) if args.smoke else (64, 128)
    save_generator(Generator(features).eval(), report, "game2movie",
                   {"kind": "faces", "image_size": side, "crop_rule": FACE_CROP.to_metadata()})
    results = {"header": "| faces model | backend | batch | ms per pass (median / p95) | ms per face | "
                         "max abs vs torch-cpu (levels) |\n|---|---|---|---|---|---|", "table": [], "rows": []}
    rng = np.random.default_rng(0)
    for label, weights, crop in (("faces demo (N=16, 64x64)", DEMO_FACES_MODEL, 64),
                                 (f"report size (N={features}, {side}x{side})", report, side)):
        crops = [rng.integers(0, 256, (crop, crop, 3), dtype=np.uint8) for _ in range(FACES_BATCH)]
        reference = Stylizer(weights, "torch-cpu", size=(crop, crop), batch=FACES_BATCH, threads=1,
                             log=lambda message: None).stylize_batch(crops)
        for batch in (1, FACES_BATCH):
            stylizer = Stylizer(weights, backend, size=(crop, crop), batch=batch, log=lambda message: None)
            got = stylizer.stylize_batch(crops[:batch])
            for _ in range(5):
                stylizer.stylize_batch(crops[:batch])
            times = []
            for _ in range(50):
                started = time.perf_counter()
                stylizer.stylize_batch(crops[:batch])
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            median, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
            worst = max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(got, reference, strict=False))
            row = {"model": label, "backend": stylizer.describe(), "batch": batch, "median_ms": median, "p95_ms": p95,
                   "max_abs_levels": worst}
            results["rows"].append(row)
            results["table"].append(f"| {label} | {stylizer.describe()} | {batch} | {median:.2f} / {p95:.2f} | "
                                    f"{median / batch:.2f} | {worst} |")
            stylizer.close()
    return results


def check_video(args, out: Path, tiny: list[str], size: int) -> dict:
    import benchmark_video

    command = [sys.executable, "scripts/benchmark_video.py", "--strengths", "0.5", "--no-write",
               *(["--speed-only"] if args.video_speed_only else []),
               "--json", str(out / "video.json")]
    if args.smoke:
        clip = REPO / "runs" / "gpu-check-smoke.mp4"
        frames, times = benchmark_video.synthetic_pan(2.0, size=(320, 184))
        benchmark_video.encode(clip, frames, times)
        command += ["--clip", str(clip), "--backend", "torch-cpu"]
    else:
        command += ["--backend", "torch-cuda"]
    results = {"seconds": run(command, LOGS / "video.log")}
    results.update(json.loads((out / "video.json").read_text()))
    results["header"] = ("| clip | inference | --stabilize | backend | frames/s | stage ms "
                         "(decode/stylise/motion/finish/encode) |\n|---|---|---|---|---|---|")
    results["table"] = [f"| {r['clip']} | {r['inference'][0]}x{r['inference'][1]} | {r['stabilize']:g} | "
                        f"{r['backend']} | {r['fps']:.1f} {r.get('preset', '')} | "
                        f"{'/'.join(f'{v:.1f}' for v in r['stage_ms'].values())} |"
                        for r in results["speed"]]
    results["table"] += [f"| warping error {r['clip']} {r['stabilize']:g}: source {r['source']:.5f}, plain "
                         f"{r['plain']:.5f}, stabilised {r['stabilized']:.5f} | | | | | |"
                         for r in results["steadiness"]]
    return results


def write_doc(results: dict, source: Path, section: str) -> int:
    """The inference and recipes tables of a saved run as a docs/benchmarks/ section."""
    from devtools.benchmark_doc import update_section

    machine = results.get("video", {}).get("machine", "machine not recorded")
    lines = ["## GPU checks: inference and recipes (`scripts/gpu_check.py`)", "",
             f"`python scripts/gpu_check.py` — {machine}. Raw numbers: "
             f"[{source.name}]({os.path.relpath(source, REPO / 'docs')}).", ""]
    if "inference" in results and "header" in results["inference"]:
        r = results["inference"]
        lines += [f"**torch-cuda inference**, generator N={r['features']} (the report's size, random weights), "
                  "the network alone on a filled input buffer, median / p95 of 50 calls after 3 warm-ups; fp16 runs "
                  "channels_last; parity: the fp16 backend's max abs difference from torch-cpu fp32 on one random "
                  "input (outputs in [-1, 1]; the build gate allows 5e-2).", "", r["header"], *r["table"], ""]
    if "recipes" in results and "runs" in results["recipes"]:
        r = results["recipes"]
        lines += ["**Recipes on the full presets** (synthetic oracles, 128 px, batch 64, bf16, seed 0), all four runs "
                  f"side by side on the one GPU, each stopped by --minutes; data generation took "
                  f"{r['synth_seconds']:.0f} s first. Scores on the paired test scenes, SSIM / PSNR.", "",
                  "| run | time | game→movie oracle SSIM / PSNR | movie→game |", "|---|---|---|---|", *r["table"], ""]
    update_section(section, "\n".join(lines))
    print("\n".join(lines))
    return 0


CHECKS = {"train": check_train, "recipes": check_recipes, "video": check_video, "inference": check_inference,
          "oracle": check_oracle, "pyramid": check_pyramid, "faces": check_faces}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path,
                        help="folder for gpu_check.json, logs and grids (required unless --from-json)")
    parser.add_argument("--from-json", type=Path, help="write a saved gpu_check.json's inference and recipes tables to "
                        "docs/benchmarks/ (section --section) instead of running checks")
    parser.add_argument("--section", default="gpu-check", help="with --from-json: the docs/benchmarks/ section")
    parser.add_argument("--checks", default="recipes",
                        help="comma list of: train, recipes, video, inference, oracle, pyramid, faces")
    parser.add_argument("--recipes", default="residual-cg,cycle-lsgan", help="training.study configuration names")
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="time limit per training run (train: the report run; recipes: each run)")
    parser.add_argument("--inference-sizes", help="inference: comma list of WIDTHxHEIGHT "
                        "(default 320x184,640x360,1280x720,1920x1080)")
    parser.add_argument("--inference-modes", default="eager,graph,compile", help="inference: torch-cuda fp16 modes")
    parser.add_argument("--video-speed-only", action="store_true", help="video: frames/s only, no warping error")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, to check this script itself on a CPU before spending GPU time")
    return parser


def run_folders(names: list[str], recipes: str) -> list[Path]:
    """The training runs' folders the checks replace under runs/ (each check's own names)."""
    folders = []
    if "train" in names:
        folders += [REPO / "runs" / "gpu-faces-default-b64", REPO / "runs" / "gpu-faces-report-b1"]
    if "recipes" in names:
        folders += [REPO / "runs" / f"gpu-{kind}-{name}" for name in recipes.split(",") for kind in ("faces", "frames")]
    if "oracle" in names:
        folders.append(REPO / "runs" / "gpu-real-supertux-default")
    return folders


def declare(args) -> Declaration:
    """--from-json reads the saved run and writes its section of the benchmark pages. Otherwise everything goes
    to --out and the logs folder (both the script's own), besides what the checks make themselves: the training
    runs' folders under runs/ (replaced), the synthetic sets cached under data/ (made with the checkout as the
    current folder) and the oracle's (under the current folder's data/), scripts/benchmark_train.py's section of
    the benchmark pages (train, not --smoke), and the smoke clip, the recorded test clips, the scratch folder and
    the backend cache of scripts/benchmark_video.py (video)."""
    from devtools.benchmark_doc import page_output, scratch_output
    from livestyle.runtime.timing import cache_output

    if args.from_json is not None:
        return Declaration("gpu_check", {"--from-json": args.from_json}, (page_output(args.section),))
    names = args.checks.split(",")
    outputs = [Output("--out", args.out, folder=True, owned=True),
               Output("the check logs", LOGS, folder=True, owned=True)]
    outputs += [Output("a check's training run", folder, folder=True, owned=True)
                for folder in run_folders(names, args.recipes)]
    if "train" in names or "recipes" in names:
        outputs.append(Output("the cached synthetic sets", REPO / "data", folder=True, owned=True))
    if "train" in names and not args.smoke:  # benchmark_train.py, run without --no-write
        import torch

        outputs.append(page_output(f"benchmark_train-{'cuda' if torch.cuda.is_available() else 'cpu'}"))
    if "oracle" in names:
        outputs.append(Output("the cached oracle sets", Path("data"), folder=True, owned=True))
    if "video" in names:
        outputs += [scratch_output(), cache_output()]
        outputs.append(Output("the smoke clip", REPO / "runs" / "gpu-check-smoke.mp4", owned=True) if args.smoke else
                       Output("the recorded test clips", REPO / "data" / "benchmark-video", folder=True, owned=True))
    return Declaration("gpu_check", {}, tuple(outputs))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.from_json is None and args.out is None:
        parser.error("--out is required")
    for name in [] if args.from_json else args.checks.split(","):
        if name not in CHECKS:
            raise SystemExit(f"--checks: unknown {name!r}; choose from {', '.join(CHECKS)}")
    try:
        declare(args).check()
        if args.from_json:
            return write_doc(json.loads(args.from_json.read_text()), args.from_json, args.section)
        return run_checks(args)
    except LivestyleError as error:  # a refused output, or one that could not be written
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_checks(args) -> int:
    """Every check of --checks, each result saved as it comes; the short table printed last."""
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    tiny = ["--image-size", "32", "--g-features", "8", "--d-features", "8", "--limit", "64",
            "--epochs", "2"] if args.smoke else []
    size = 32 if args.smoke else 128
    results = {}
    for name in args.checks.split(","):  # one failing check must not cost the others their (paid-for) GPU time
        started = time.perf_counter()
        try:
            results[name] = CHECKS[name](args, out, tiny, size)
        except (Exception, SystemExit) as error:  # noqa: BLE001
            results[name] = {"error": str(error), "table": [f"| {name} failed: {str(error)[:300]} |"]}
        print(f"check {name}: {time.perf_counter() - started:.0f} s", flush=True)
        write_text(out / "gpu_check.json", json.dumps(results, indent=2, default=str))
    write_text(out / "logs.txt",
               "".join(f"===== {log.name}\n{log.read_text()}\n" for log in sorted(LOGS.glob("*.log"))))
    write_text(out / "gpu_check.json", json.dumps(results, indent=2, default=str))
    for result in results.values():
        print("\n" + result.get("header", "| run | time | game→movie oracle SSIM / PSNR | movie→game |\n"
                                          "|---|---|---|---|"))
        print("\n".join(result["table"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
