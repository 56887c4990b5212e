"""Train the small demo model that ships inside the package (livestyle/assets/demo_game2movie.safetensors).

  python scripts/make_demo_model.py              # trains (about 10 min on an idle 2-core CPU), evaluates, copies
  python scripts/make_demo_model.py --run-dir runs/demo-model --no-train   # re-copy a finished run

`python -m livestyle` falls back to this model when there is no engine and no trained run, so a
fresh install shows a real stylised picture. It is the default recipe on the synthetic frames
set, with a generator of N=16 features (1/16 of the report's 5.6M parameters) so that it runs at
interactive rates on a CPU. The weights carry their training command and oracle score in their
metadata; the score is also printed here and recorded in docs/benchmarks.md (section demo-model).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from livestyle.devtools.benchmark_doc import machine, update_section
from livestyle.files import write_image
from livestyle.generator import count_parameters, load_generator, save_generator

REPO = Path(__file__).resolve().parents[1]

ASSET = REPO / "livestyle" / "assets" / "demo_game2movie.safetensors"
FEATURES = 16
TRAINING = ["frames", "--g-features", str(FEATURES), "--d-features", str(FEATURES), "--image-size", "128",
            "--limit", "400", "--epochs", "6", "--batch-size", "4", "--seed", "0", "--save-every-minutes", "5"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "demo-model")
    parser.add_argument("--no-train", action="store_true", help="use the finished run in --run-dir as it is")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    command = [sys.executable, "-m", "training.fit", *TRAINING, "--run-dir", str(args.run_dir)]
    if not args.no_train:
        if args.run_dir.exists():
            shutil.rmtree(args.run_dir)
        print("training:", " ".join(["python", *command[1:]]), flush=True)
        subprocess.run(command, check=True, cwd=REPO)
    weights = args.run_dir / "game2movie.safetensors"
    evaluation = json.loads((args.run_dir / "eval.json").read_text())
    oracle = evaluation["oracle"]["game2movie"]
    generator, _ = load_generator(weights)
    score = {"ssim": round(oracle["model"]["ssim"], 4), "psnr": round(oracle["model"]["psnr"], 2),
             "do_nothing_ssim": round(oracle["do_nothing"]["ssim"], 4),
             "do_nothing_psnr": round(oracle["do_nothing"]["psnr"], 2)}
    ASSET.parent.mkdir(exist_ok=True)
    save_generator(generator, ASSET, "game2movie", extra={
        "demo": "small demo model (N=16) trained on livestyle's synthetic frames; train your own for real games",
        "training_command": "python -m training.fit " + " ".join(TRAINING),
        "oracle_game2movie_128px": score})
    size_kib = ASSET.stat().st_size / 1024
    print(f"wrote {ASSET.relative_to(REPO)} ({size_kib:.0f} KiB, {count_parameters(generator):,} parameters); "
          f"oracle game→movie SSIM {score['ssim']:.3f} / PSNR {score['psnr']:.2f} dB "
          f"(doing nothing {score['do_nothing_ssim']:.3f} / {score['do_nothing_psnr']:.2f} dB)")
    if not args.no_write:
        import cv2

        grid = cv2.imread(str(args.run_dir / "test_grid.png"))
        write_image(REPO / "docs" / "images" / "demo-model-frames-test.jpg", grid, (cv2.IMWRITE_JPEG_QUALITY, 88))
        update_section("demo-model", "\n".join([
            "## The bundled demo model (`python scripts/make_demo_model.py`)",
            "",
            f"{machine()}. `python -m training.fit {' '.join(TRAINING)}`: generator N={FEATURES} "
            f"({count_parameters(generator):,} parameters, {size_kib:.0f} KiB) and discriminator N={FEATURES}, default recipe, synthetic "
            "frames at 128×128, 400 images per domain.",
            "",
            "| | game→movie SSIM / PSNR on the oracle's test scenes (128 px) |",
            "|---|---|",
            f"| demo model | {score['ssim']:.3f} / {score['psnr']:.2f} dB |",
            f"| do nothing | {score['do_nothing_ssim']:.3f} / {score['do_nothing_psnr']:.2f} dB |",
            "",
            "Test grid (rows: game, game→movie, true movie, movie, movie→game, true game): "
            "[images/demo-model-frames-test.jpg](images/demo-model-frames-test.jpg).",
        ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
