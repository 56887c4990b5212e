"""Score a trained run on its test split: `python -m training.evaluate RUN_DIR [--data DIR]`.

Writes RUN_DIR/eval.json and RUN_DIR/test_grid.png. Always: cycle SSIM and identity L1 in both
directions. On paired data (the synthetic oracle): SSIM and PSNR of game→movie and movie→game
against the true renders, beside doing nothing (the input scored against the same truth).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from livestyle.checks import MAX_SIDE, ArgumentParser, FileCheck
from livestyle.errors import LivestyleError
from livestyle.files import check_apart, check_writable, describe, write_json
from livestyle.generator import load_generator
from training import metrics
from training.data import DataError, check_root, read_folder, read_manifest, translate
from training.grids import labelled_grid, save_png


def scores(prediction: torch.Tensor, target: torch.Tensor) -> dict:
    p, t = metrics.uint8_to_unit(prediction), metrics.uint8_to_unit(target)
    return {"ssim": metrics.ssim(p, t).mean().item(), "psnr": metrics.psnr(p, t).mean().item()}


def evaluate_run(run_dir: str | Path, data: str | Path | None = None, device: str = "auto") -> dict:
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise DataError(f"{run_dir} is not a training run (no config.json); pass a folder under runs/")
    check = FileCheck(config_path, "it is written by python -m training.fit; pass a run folder it made, and --data")
    config = check.mapping(check.load_json())
    check.get(config, "image_size", int, low=16, high=MAX_SIDE)
    for name in ("game2movie.safetensors", "movie2game.safetensors"):
        if not (run_dir / name).is_file():
            raise DataError(f"{run_dir / name} is missing: the run has not finished an epoch yet")
    root = Path(data or check.get(config, "data", str))
    check_root(root)
    # The run folder is both read and written (the documented exception); the data set only read.
    outputs = {"eval.json": run_dir / "eval.json", "test_grid.png": run_dir / "test_grid.png"}
    check_apart(outputs, {"--data": root})
    for label, path in outputs.items():
        check_writable(path, label)
    torch_device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                ("cpu" if device == "auto" else device))
    game2movie, meta = load_generator(run_dir / "game2movie.safetensors", torch_device)
    movie2game, _ = load_generator(run_dir / "movie2game.safetensors", torch_device)
    size = config["image_size"]
    game, names_game = read_folder(root / "test" / "game", size)
    movie, names_movie = read_folder(root / "test" / "movie", size)

    fake_movie = translate(game2movie, game, torch_device)
    fake_game = translate(movie2game, movie, torch_device)
    cycled_game = translate(movie2game, fake_movie, torch_device)
    cycled_movie = translate(game2movie, fake_game, torch_device)
    result = {
        "run": str(run_dir), "data": str(root), "image_size": size, "test_images": {"game": len(game), "movie": len(movie)},
        "cycle_ssim": {"game": scores(cycled_game, game)["ssim"], "movie": scores(cycled_movie, movie)["ssim"]},
        "identity_l1": {"game2movie": (fake_movie.float() - game.float()).abs().mean().item() / 127.5,
                        "movie2game": (fake_game.float() - movie.float()).abs().mean().item() / 127.5},
    }
    rows = [("game (input)", game[:8]), ("game -> movie", fake_movie[:8])]
    manifest = read_manifest(root)
    oracle = manifest.get("oracle", {}).get("test") if manifest.get("paired") else None
    if oracle:
        true_movie, _ = read_folder(root / oracle["movie"], size, names=names_game)
        true_game, _ = read_folder(root / oracle["game"], size, names=names_movie)
        result["oracle"] = {
            "game2movie": {"model": scores(fake_movie, true_movie), "do_nothing": scores(game, true_movie)},
            "movie2game": {"model": scores(fake_game, true_game), "do_nothing": scores(movie, true_game)},
        }
        rows.append(("true movie", true_movie[:8]))
    rows += [("movie (input)", movie[:8]), ("movie -> game", fake_game[:8])]
    if oracle:
        rows.append(("true game", true_game[:8]))
    save_png(run_dir / "test_grid.png", labelled_grid(rows))
    write_json(run_dir / "eval.json", result)
    print_report(result, run_dir)
    return result


def print_report(result: dict, run_dir: Path) -> None:
    print(f"\nevaluation on {result['data']}/test ({result['test_images']['game']} images per domain)")
    print(f"  cycle SSIM   game {result['cycle_ssim']['game']:.3f}   movie {result['cycle_ssim']['movie']:.3f}")
    if "oracle" in result:
        print("  oracle           model SSIM / PSNR     do nothing SSIM / PSNR")
        for direction, row in result["oracle"].items():
            model, nothing = row["model"], row["do_nothing"]
            verdict = "better" if model["psnr"] > nothing["psnr"] and model["ssim"] > nothing["ssim"] else "not better"
            print(f"  {direction:<12}   {model['ssim']:.3f} / {model['psnr']:5.2f} dB      "
                  f"{nothing['ssim']:.3f} / {nothing['psnr']:5.2f} dB   ({verdict} than doing nothing)")
    print(f"  wrote {run_dir / 'eval.json'} and {run_dir / 'test_grid.png'}")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a training run, e.g. runs/faces-20261126-101500")
    parser.add_argument("--data", type=Path, help="data set to score on (default: the run's own)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args(argv)
    try:
        evaluate_run(args.run_dir, args.data, args.device)
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
