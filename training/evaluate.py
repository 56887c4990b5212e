"""Score a trained generator on a data set's test split.

  python -m training.evaluate RUN_DIR                          # the run's own data set
  python -m training.evaluate RUN_DIR --data data/real-supertux-teal-orange-other-levels-v1 --size 640x360
  python -m training.evaluate --weights livestyle/assets/demo_game2movie.safetensors --data DIR

At the training size (the test images squashed to the run's --image-size, as it trained): cycle
SSIM and identity L1 in both directions (runs only), and on paired data SSIM, PSNR and structure
(correlation of gradient magnitudes: are the true frame's edges kept?) of game→movie and
movie→game against the true frames, beside doing nothing (the input scored against the truth).

At display resolution (recorded footage only, e.g. python -m training.oracle): the game→movie
generator runs through livestyle.Stylizer at --size (default 640x360, as the live app) on the
full-size test frames, its output shown at --output-size (default the frames' own size), scored
against the true graded frame beside doing nothing and beside the frame only resized to --size
and back (the cost of the reduced size alone).

A run writes RUN_DIR/eval.json, test_grid.png and, on recorded footage, display_grid.png (input,
resized only, model, truth at the display size); --weights writes to --out FILE.json (+ FILE.png)
when given.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from livestyle.core.checks import FileCheck
from livestyle.core.cli import ArgumentParser, bounded_int, run_command
from livestyle.core.declared import Declaration, Output
from livestyle.core.files import describe, make_folder, write_json
from livestyle.core.memory import check_memory
from livestyle.core.sizes import DEFAULT_SIZE, MAX_SIDE, format_size, parse_size
from livestyle.model.weights import load_generator
from livestyle.runtime.backends import NAMES as BACKENDS
from livestyle.runtime.timing import cache_output
from training import display, metrics
from training.data import DataError, check_root, read_folder, read_frames, read_manifest, translate
from training.grids import labelled_grid, save_png


def scores(prediction: torch.Tensor, target: torch.Tensor) -> dict:
    p, t = metrics.uint8_to_unit(prediction), metrics.uint8_to_unit(target)
    return {"ssim": metrics.ssim(p, t).mean().item(), "psnr": metrics.psnr(p, t).mean().item(),
            "structure": metrics.structure(p, t).mean().item()}


def torch_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def is_recorded(manifest: dict) -> bool:
    return manifest.get("source") == "recorded"


def check_display(manifest: dict, root: Path, size, output_size) -> tuple[int, int] | None:
    """The inference size for display scores, or None (synthetic sets are scored at their size)."""
    if not is_recorded(manifest):
        if size is not None or output_size is not None:
            raise DataError(f"--size/--output-size score recorded footage at display resolution; {root} is not "
                            f"recorded footage (its manifest says source {manifest.get('source', 'unknown')!r}): "
                            f"build one with python -m training.oracle, or leave --size out")
        return None
    return parse_size(size, "--size", multiple=1) if size is not None else DEFAULT_SIZE


def training_size_scores(game2movie, movie2game, root: Path, size: int, device) -> tuple[dict, list]:
    """Scores at the training size (both directions when movie2game is given) and grid rows."""
    game, names_game = read_folder(root / "test" / "game", size)
    movie, names_movie = read_folder(root / "test" / "movie", size)
    fake_movie = translate(game2movie, game, device)
    result: dict = {"test_images": {"game": len(game), "movie": len(movie)}}
    rows = [("game (input)", game[:8]), ("game -> movie", fake_movie[:8])]
    fake_game = None
    if movie2game is not None:
        fake_game = translate(movie2game, movie, device)
        result["cycle_ssim"] = {"game": scores(translate(movie2game, fake_movie, device), game)["ssim"],
                                "movie": scores(translate(game2movie, fake_game, device), movie)["ssim"]}
        result["identity_l1"] = {"game2movie": (fake_movie.float() - game.float()).abs().mean().item() / 127.5,
                                 "movie2game": (fake_game.float() - movie.float()).abs().mean().item() / 127.5}
    manifest = read_manifest(root)
    oracle = manifest.get("oracle", {}).get("test") if manifest.get("paired") else None
    if oracle:
        true_movie, _ = read_folder(root / oracle["movie"], size, names=names_game)
        result["oracle"] = {"game2movie": {"model": scores(fake_movie, true_movie),
                                           "do_nothing": scores(game, true_movie)}}
        rows.append(("true movie", true_movie[:8]))
        if fake_game is not None:
            true_game, _ = read_folder(root / oracle["game"], size, names=names_movie)
            result["oracle"]["movie2game"] = {"model": scores(fake_game, true_game),
                                              "do_nothing": scores(movie, true_game)}
    if fake_game is not None:
        rows += [("movie (input)", movie[:8]), ("movie -> game", fake_game[:8])]
        if oracle:
            rows.append(("true game", true_game[:8]))
    return result, rows


# Scoring one W×H pair at a time holds about this many float copies of a frame (SSIM's filtered images and
# their products; measured 12 to 19 at 2048² and 1024² as peak resident size).
SCORING_COPIES = 16


def test_pairs(root: Path, manifest: dict) -> tuple[list, list]:
    """The paired test frames of a recorded oracle at full size: (game inputs, true movie frames)."""
    oracle = manifest["oracle"]["test"]
    inputs, names = read_frames(root / oracle["game"])
    return inputs, read_frames(root / oracle["movie"], names)[0]


def display_evaluation(weights: Path, root: Path, manifest: dict, size: tuple[int, int], output_size,
                       backend: str) -> tuple[dict, list]:
    """Game→movie through livestyle.Stylizer on the full-size paired test frames."""
    from livestyle.runtime.stylizer import Stylizer

    inputs, truths = test_pairs(root, manifest)
    if output_size:  # every shown frame is kept (model, doing nothing, resized only, truth), then scored
        width, height = output_size
        kept, scoring = 4 * len(inputs) * width * height * 3, SCORING_COPIES * width * height * 3 * 4
        check_memory(f"--output-size {width}x{height} ({len(inputs)} test frames)", kept + scoring,
                     "choose a smaller --output-size (a display's own size is plenty)")
    stylizer = Stylizer(weights, backend, size=size, output_size=output_size or "input", log=lambda *_: None)
    try:
        result, kept = display.display_scores(lambda frame: np.ascontiguousarray(stylizer(frame[..., ::-1])[..., ::-1]),
                                              inputs, truths, size, output_size, keep=3)
        result["backend"] = stylizer.describe()
    finally:
        stylizer.close()
    return result, kept


def display_grid(kept: list, size: tuple[int, int]) -> np.ndarray:
    labels = ("game (input)", f"resized only\nto {format_size(size)}\nand back",
              f"game -> movie\nat {format_size(size)}", "true movie")
    return labelled_grid([(label, np.stack([quad[i] for quad in kept])) for i, label in enumerate(labels)])


def evaluate_run(run_dir: str | Path, data: str | Path | None = None, device: str = "auto", size=None,
                 output_size=None, backend: str | None = None) -> dict:
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise DataError(f"{run_dir} is not a training run (no config.json); pass a folder under runs/, "
                        f"or --weights FILE with --data")
    check = FileCheck(config_path, "it is written by python -m training.fit; pass a run folder it made, and --data")
    config = check.mapping(check.load_json())
    check.get(config, "image_size", int, low=16, high=MAX_SIDE)
    for name in ("game2movie.safetensors", "movie2game.safetensors"):
        if not (run_dir / name).is_file():
            raise DataError(f"{run_dir / name} is missing: the run has not finished an epoch yet")
    root = Path(data or check.get(config, "data", str))
    check_root(root)
    manifest = read_manifest(root)
    inference = check_display(manifest, root, size, output_size)
    # The run folder is both read and written (the documented exception); the data set only read.
    declaration = run_declaration(run_dir, root, bool(inference))
    declaration.check()
    outputs = {output.label: output.path for output in declaration.outputs if not output.best_effort}
    device = torch_device(device)
    game2movie, _ = load_generator(run_dir / "game2movie.safetensors", device)
    movie2game, _ = load_generator(run_dir / "movie2game.safetensors", device)
    result = {"run": str(run_dir), "data": str(root), "image_size": config["image_size"]}
    scored, rows = training_size_scores(game2movie, movie2game, root, config["image_size"], device)
    result.update(scored)
    save_png(outputs["test_grid.png"], labelled_grid(rows))
    if inference:
        result["display"], kept = display_evaluation(run_dir / "game2movie.safetensors", root, manifest, inference,
                                                     output_size, backend or default_backend(device))
        save_png(outputs["display_grid.png"], display_grid(kept, inference))
    write_json(outputs["eval.json"], result)
    print_report(result, [str(path) for path in outputs.values()])
    return result


def run_declaration(run_dir: Path, root: Path, display: bool = True) -> Declaration:
    """Scoring a run reads its data set and writes the run's own eval.json and grids (replaced by design)."""
    names = ("eval.json", "test_grid.png", *(("display_grid.png",) if display else ()))
    return Declaration("training.evaluate", {"--data": root},
                       (*(Output(name, run_dir / name, owned=True) for name in names), cache_output()))


def weights_declaration(weights: Path, root: Path, out: Path | None, overwrite: bool) -> Declaration:
    """Scoring weights reads them and the data set, and writes --out and the picture beside it (refused if
    present, unless --overwrite)."""
    outputs = () if out is None else (Output("--out", out), Output("--out picture", out.with_suffix(".png")))
    return Declaration("training.evaluate", {"--data": root, "--weights": weights}, (*outputs, cache_output()),
                       overwrite=overwrite)


def declare(args) -> Declaration:
    if args.weights is not None:
        return weights_declaration(args.weights, args.data, args.out, args.overwrite)
    data = args.data
    if data is None:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((args.run_dir / "config.json").read_text()).get("data")
    return run_declaration(args.run_dir, Path(data or args.run_dir / "data"))


def evaluate_weights(weights: str | Path, data: str | Path, image_size: int | None = None, device: str = "auto",
                     size=None, output_size=None, backend: str | None = None, out: str | Path | None = None,
                     overwrite: bool = False) -> dict:
    """Game→movie weights without a run folder (e.g. the bundled demo model): oracle scores only."""
    weights, root = Path(weights), Path(data)
    if not weights.is_file():
        raise DataError(f"--weights {weights} does not exist: pass a game2movie.safetensors file")
    check_root(root)
    manifest = read_manifest(root)
    if not manifest.get("paired"):
        raise DataError(f"--weights needs a paired data set (a known right answer); {root} has none: "
                        f"build one with python -m training.oracle or python -m training.synth")
    inference = check_display(manifest, root, size, output_size)
    out = None if out is None else Path(out)
    declaration = weights_declaration(weights, root, out, overwrite)
    declaration.check()
    outputs = {output.label: output.path for output in declaration.outputs if not output.best_effort}
    device = torch_device(device)
    game2movie, metadata = load_generator(weights, device)
    if image_size is None:
        image_size = metadata.get("image_size", 128)
        image_size = int(image_size) if str(image_size).isdigit() else 128
    result = {"weights": str(weights), "data": str(root), "image_size": image_size}
    scored, rows = training_size_scores(game2movie, None, root, image_size, device)
    result.update(scored)
    kept = None
    if inference:
        result["display"], kept = display_evaluation(weights, root, manifest, inference, output_size,
                                                     backend or default_backend(device))
    if out is not None:
        picture = display_grid(kept, inference) if kept else labelled_grid(rows)
        make_folder(out.parent)
        save_png(outputs["--out picture"], picture, replace=overwrite)
        write_json(out, result, replace=overwrite)
    print_report(result, [str(path) for path in outputs.values()])
    return result


def default_backend(device: torch.device) -> str:
    return "torch-cuda" if device.type == "cuda" else "torch-cpu"


def format_scores(row: dict) -> str:
    return f"{row['ssim']:.3f} / {row['psnr']:5.2f} dB / {row['structure']:.3f}"


def print_report(result: dict, written: list[str]) -> None:
    counts = result["test_images"]
    print(f"\nevaluation on {result['data']}/test ({counts['game']} game images)")
    if "cycle_ssim" in result:
        print(f"  cycle SSIM   game {result['cycle_ssim']['game']:.3f}   movie {result['cycle_ssim']['movie']:.3f}")
    if "oracle" in result:
        print(f"  at the training size {result['image_size']} px    SSIM / PSNR / structure")
        for direction, row in result["oracle"].items():
            print(f"  {direction:<12} model       {format_scores(row['model'])}")
            print(f"  {'':<12} do nothing  {format_scores(row['do_nothing'])}   ({display.verdict(row)})")
    if "display" in result:
        row = result["display"]
        shown = row["output_size"] if row["output_size"] == "input" else format_size(row["output_size"])
        print(f"  at display resolution: run at {format_size(row['size'])} ({row['backend']}), shown at "
              f"{'each frame’s own size' if shown == 'input' else shown}, {row['pairs']} frames")
        print(f"  game2movie   model        {format_scores(row['model'])}")
        print(f"  {'':<12} resized only {format_scores(row['resized_only'])}")
        print(f"  {'':<12} do nothing   {format_scores(row['do_nothing'])}   ({display.verdict(row)})")
    if written:
        print(f"  wrote {', '.join(written)}")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, nargs="?", help="a training run, e.g. runs/frames-20261126-101500")
    parser.add_argument("--weights", type=Path,
                        help="score this game2movie.safetensors instead of a run (needs --data)")
    parser.add_argument("--data", type=Path, help="data set to score on (default: the run's own)")
    parser.add_argument("--size", help="inference size WIDTHxHEIGHT for display scores on recorded footage "
                                       f"(default {format_size(DEFAULT_SIZE)}, as the live app)")
    parser.add_argument("--output-size", help="display size WIDTHxHEIGHT the output is shown and scored at "
                                              "(default: each test frame's own size)")
    parser.add_argument("--backend", choices=("auto", *BACKENDS),
                        help="what runs the model for display scores (default torch-cuda with a GPU, else torch-cpu)")
    parser.add_argument("--image-size", type=bounded_int(16, MAX_SIDE),
                        help="training size for --weights (default: the size in its metadata, else 128)")
    parser.add_argument("--out", type=Path,
                        help="with --weights: write the scores to this .json (and a .png beside it)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out (and its .png) if they exist")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv, run, lambda error, args: describe(error))


def run(args) -> int:
    output_size = parse_size(args.output_size, "--output-size", multiple=1) if args.output_size else None
    if args.weights is not None:
        if args.run_dir is not None:
            raise DataError("pass a run folder or --weights, not both")
        if args.data is None:
            raise DataError("--weights needs --data: a paired data set, e.g. from python -m training.oracle")
        evaluate_weights(args.weights, args.data, args.image_size, args.device, args.size, output_size,
                         args.backend, args.out, args.overwrite)
        return 0
    if args.run_dir is None:
        raise DataError("name a run folder (e.g. runs/frames-20261126-101500) or pass --weights FILE --data DIR")
    if args.out is not None or args.image_size is not None or args.overwrite:
        raise DataError("--out, --overwrite and --image-size go with --weights; a run writes RUN_DIR/eval.json at "
                        "its own size")
    evaluate_run(args.run_dir, args.data, args.device, args.size, output_size, args.backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
