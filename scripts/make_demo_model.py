"""Train the small demo model that ships inside the package (livestyle/assets/demo_game2movie.safetensors).

  python -m training.oracle supertux --look teal-orange --movie other-levels   # the data set, once
  python scripts/make_demo_model.py              # trains (about 10 min on an idle 2-core CPU), evaluates, copies
  python scripts/make_demo_model.py --run-dir runs/demo-model --no-train   # re-copy a finished run
  python scripts/make_demo_model.py --kind faces  # the faces demo model
                                                  # (livestyle/assets/demo_faces_game2movie.safetensors)

`python -m livestyle` falls back to this model when there is no engine and no trained run, so a
fresh install shows a real stylised picture. It is the default recipe trained on recorded SuperTux
gameplay against a teal-orange film look whose movie clips come from other levels (the case a
user's footage is in): since issue 25 the default recipe's film look (a few dozen numbers; any CPU runs
it at interactive rates). The weights carry their training command and scores in their metadata; the scores (at the
training size and as shown at 640x360) are also printed here and recorded in docs/benchmarks/
(section demo-model).

The faces demo model (`--kind faces`, what `python -m livestyle --faces` runs out of the box) is the
default recipe (a faces film look: soft focus, colour and grain) on the synthetic faces set
(python -m training.synth: drawn faces framed a
little tighter than the crop rule cuts a detected one — BlazeFace on its test faces puts the rule's
square at 0.83 of the picture, 0.68–0.96), 64×64 whole crops, estimated in closed form (seconds): small
enough that four face crops cost a few milliseconds on a CPU. Its scores
are at the training size (section demo-faces-model); its weights record kind faces, the crop rule
and the size, as every faces run's do.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from devtools.benchmark_doc import machine, page_output, update_section
from livestyle.core.assets import SUMS, record
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import write_image
from livestyle.model.generator import count_parameters
from livestyle.model.weights import load_generator, save_generator
from livestyle.runtime.timing import cache_output

REPO = Path(__file__).resolve().parents[1]

ASSET = REPO / "livestyle" / "assets" / "demo_game2movie.safetensors"
DATA = Path("data") / "real-supertux-teal-orange-other-levels-v1"
DATA_COMMAND = "python -m training.oracle supertux --look teal-orange --movie other-levels"
TRAINING = ["frames", "--data", str(DATA), "--image-size", "128", "--limit", "400", "--seed", "0",
            "--save-every-minutes", "5"]


FACES_ASSET = REPO / "livestyle" / "assets" / "demo_faces_game2movie.safetensors"
FACES_SIZE = 64
FACES_TRAINING = ["faces", "--image-size", str(FACES_SIZE), "--no-crop", "--limit", "400", "--seed", "0"]
DISPLAY_PICTURE = REPO / "docs" / "images" / "demo-model-display.jpg"
SIDE_BY_SIDE_PICTURE = REPO / "docs" / "images" / "demo-side-by-side.jpg"


def make_faces(args) -> int:
    from livestyle.faces.crop import FACE_CROP

    command = [sys.executable, "-m", "training.fit", *FACES_TRAINING, "--run-dir", str(args.run_dir)]
    if not args.no_train:
        if args.run_dir.exists():
            shutil.rmtree(args.run_dir)
        print("training:", " ".join(["python", *command[1:]]), flush=True)
        subprocess.run(command, check=True, cwd=REPO)
    evaluation = json.loads((args.run_dir / "eval.json").read_text())
    generator, _ = load_generator(args.run_dir / "game2movie.safetensors")
    oracle = evaluation["oracle"]["game2movie"]
    scores = {k: {m: round(oracle[k][m], 4 if m != "psnr" else 2) for m in ("ssim", "psnr", "structure")}
              for k in ("model", "do_nothing")}
    save_generator(generator, FACES_ASSET, "game2movie", extra={
        "demo": "faces demo film look (the default recipe) learnt from synthetic faces; train your own for your "
                "game's faces and your film's (python -m training.fit faces)",
        "training_command": "python -m training.fit " + " ".join(FACES_TRAINING),
        "kind": "faces", "preset": "faces", "crop_rule": FACE_CROP.to_metadata(), "image_size": FACES_SIZE,
        "scores": {"training_size": scores}})
    record(FACES_ASSET.name)  # its line of livestyle/assets/SHA256SUMS: the runtime checks the shipped file by it
    model, nothing = scores["model"], scores["do_nothing"]
    size_kib = FACES_ASSET.stat().st_size / 1024
    print(f"wrote {FACES_ASSET.relative_to(REPO)} ({size_kib:.0f} KiB, {count_parameters(generator):,} parameters); "
          f"synthetic test faces at {FACES_SIZE} px: SSIM {model['ssim']:.3f} / PSNR {model['psnr']:.2f} dB "
          f"/ structure {model['structure']:.3f} (doing nothing {nothing['ssim']:.3f} / {nothing['psnr']:.2f} dB / "
          f"{nothing['structure']:.3f})")
    if not args.no_write:
        update_section("demo-faces-model", "\n".join([
            "## The bundled faces demo model (`python scripts/make_demo_model.py --kind faces`)",
            "",
            f"{machine()}. `python -m training.fit {' '.join(FACES_TRAINING)}`: the default recipe's film look "
            f"({count_parameters(generator):,} numbers, {size_kib:.0f} KiB; soft focus, colour, grain), synthetic "
            f"faces (python -m training.synth faces), whole crops at {FACES_SIZE}×{FACES_SIZE}.",
            "",
            f"| synthetic test faces, game→movie at {FACES_SIZE} px | SSIM | PSNR (dB) | structure |",
            "|---|---|---|---|",
            f"| faces demo model | {model['ssim']:.3f} | {model['psnr']:.2f} | {model['structure']:.3f} |",
            f"| do nothing | {nothing['ssim']:.3f} | {nothing['psnr']:.2f} | {nothing['structure']:.3f} |",
        ]))
    return 0


def side_by_side(weights: Path, data: Path, frames: tuple[int, ...] = (0, 40)):
    """Held-out test frames, one per row: the game | livestyle as the app shows it (grain on) | the true
    graded frame (the look's grade, without the film's own grain and weave); titled columns, BGR."""
    import cv2
    import numpy as np

    from livestyle.runtime.stylizer import Stylizer
    from training.data import read_manifest
    from training.evaluate import test_pairs

    inputs, truths = test_pairs(data, read_manifest(data))
    stylizer = Stylizer(weights, "auto", size=(640, 360), grain=True, log=lambda *_: None)
    try:
        rows = [np.hstack([inputs[i][..., ::-1], np.full((inputs[i].shape[0], 8, 3), 255, np.uint8),
                           stylizer(np.ascontiguousarray(inputs[i][..., ::-1])),
                           np.full((inputs[i].shape[0], 8, 3), 255, np.uint8), truths[i][..., ::-1]])
                for i in frames]
    finally:
        stylizer.close()
    gap = np.full((8, rows[0].shape[1], 3), 255, np.uint8)
    parts = [rows[0]]
    for row in rows[1:]:
        parts += [gap, row]
    picture = np.vstack(parts)
    header = np.full((32, picture.shape[1], 3), 255, np.uint8)
    width = inputs[frames[0]].shape[1] + 8
    for column, title in enumerate(("game", "livestyle (as shown, grain on)", "true graded frame")):
        cv2.putText(header, title, (column * width + 8, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (20, 20, 20), 1,
                    cv2.LINE_AA)
    return np.vstack([header, picture])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=("frames", "faces"), default="frames",
                        help="frames: the demo model (default); faces: the faces demo model")
    parser.add_argument("--run-dir", type=Path, help="default runs/demo-model (frames), runs/demo-faces-model (faces)")
    parser.add_argument("--no-train", action="store_true", help="use the finished run in --run-dir as it is")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks/ alone")
    return parser


def run_dir_of(args) -> Path:
    return args.run_dir or REPO / "runs" / ("demo-faces-model" if args.kind == "faces" else "demo-model")


def declare(args) -> Declaration:
    """Training writes the run folder (the script's own: a new training replaces it) and, for the faces model,
    the synthetic faces set training.fit caches under the checkout's data/; --no-train reads the finished run
    instead. The frames model reads the oracle data set. It replaces the bundled weights in livestyle/assets/,
    and unless --no-write its section of the benchmark pages and, for the frames model, the two pictures in
    docs/images/ (the side-by-side one runs the backends --backend auto times: the backend cache)."""
    run_dir = run_dir_of(args)
    faces = args.kind == "faces"
    inputs = {"--run-dir": run_dir if args.no_train else None, "the data set": None if faces else REPO / DATA}
    outputs = [Output("the bundled weights", FACES_ASSET if faces else ASSET, owned=True),
               Output("the bundled files' sums", SUMS, owned=True)]
    if not args.no_train:
        outputs.append(Output("--run-dir", run_dir, folder=True, owned=True))
        if faces:
            outputs.append(Output("the cached synthetic sets", REPO / "data", folder=True, owned=True))
    if not args.no_write:
        outputs.append(page_output("demo-faces-model" if faces else "demo-model"))
        if not faces:
            outputs += [Output("the display grid picture", DISPLAY_PICTURE, owned=True),
                        Output("the side-by-side picture", SIDE_BY_SIDE_PICTURE, owned=True), cache_output()]
    return Declaration("make_demo_model", inputs, tuple(outputs))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.run_dir = run_dir_of(args)
    try:
        declare(args).check()
        return make_faces(args) if args.kind == "faces" else make_frames(args)
    except LivestyleError as error:  # a refused output, or one that could not be written
        print(f"error: {error}", file=sys.stderr)
        return 2


def make_frames(args) -> int:
    """The frames demo model: trained (unless --no-train), scored, copied into the package, documented."""
    command = [sys.executable, "-m", "training.fit", *TRAINING, "--run-dir", str(args.run_dir)]
    if not args.no_train:
        if not (REPO / DATA / "manifest.json").is_file():
            raise SystemExit(f"error: no data set at {DATA}; make it first with `{DATA_COMMAND}` "
                             "(from the recordings kept in training/recordings/, about a minute)")
        if args.run_dir.exists():
            shutil.rmtree(args.run_dir)
        print("training:", " ".join(["python", *command[1:]]), flush=True)
        subprocess.run(command, check=True, cwd=REPO)
    weights = args.run_dir / "game2movie.safetensors"
    evaluation = json.loads((args.run_dir / "eval.json").read_text())
    generator, _ = load_generator(weights)

    def rounded(scores: dict) -> dict:
        return {k: round(scores[k], 4 if k != "psnr" else 2) for k in ("ssim", "psnr", "structure")}

    oracle, shown = evaluation["oracle"]["game2movie"], evaluation["display"]
    score = {"training_size": {"model": rounded(oracle["model"]), "do_nothing": rounded(oracle["do_nothing"])},
             "shown_640x360": {"model": rounded(shown["model"]), "do_nothing": rounded(shown["do_nothing"])}}
    ASSET.parent.mkdir(exist_ok=True)
    save_generator(generator, ASSET, "game2movie", extra={
        "demo": "demo film look (the default recipe: a white-box look estimated in closed form) from recorded SuperTux "
                "against a teal-orange film look; train your own for your game and your film",
        "training_command": "python -m training.fit " + " ".join(TRAINING),
        "data": DATA_COMMAND, "scores": score})
    record(ASSET.name)  # its line of livestyle/assets/SHA256SUMS: the runtime checks the shipped file by it
    size_kib = ASSET.stat().st_size / 1024
    model, nothing = score["shown_640x360"]["model"], score["shown_640x360"]["do_nothing"]
    print(f"wrote {ASSET.relative_to(REPO)} ({size_kib:.0f} KiB, {count_parameters(generator):,} parameters); "
          f"shown at 640x360 on {shown['pairs']} test frames: SSIM {model['ssim']:.3f} / PSNR {model['psnr']:.2f} dB / "
          f"structure {model['structure']:.3f} (doing nothing {nothing['ssim']:.3f} / {nothing['psnr']:.2f} dB / "
          f"{nothing['structure']:.3f}; structure kept: {model['structure'] / nothing['structure']:.3f} of it)")
    if not args.no_write:
        import cv2

        grid = cv2.imread(str(args.run_dir / "display_grid.png"))
        write_image(DISPLAY_PICTURE, grid, (cv2.IMWRITE_JPEG_QUALITY, 88))
        write_image(SIDE_BY_SIDE_PICTURE, side_by_side(ASSET, REPO / DATA), (cv2.IMWRITE_JPEG_QUALITY, 90))
        training = score["training_size"]
        update_section("demo-model", "\n".join([
            "## The bundled demo model (`python scripts/make_demo_model.py`)",
            "",
            f"{machine()}. Footage: `{DATA_COMMAND}` (recorded SuperTux, movie clips from other levels). "
            f"`python -m training.fit {' '.join(TRAINING)}`: the default recipe's film look "
            f"({count_parameters(generator):,} numbers, {size_kib:.0f} KiB), estimated in closed form (stage 0) from "
            f"400 images per domain.",
            "",
            f"| {shown['pairs']} test frames | SSIM / PSNR (dB) / structure shown at 640x360 | "
            "at the training size (128 px) |",
            "|---|---|---|",
            f"| demo model | {model['ssim']:.3f} / {model['psnr']:.2f} / {model['structure']:.3f} | "
            f"{training['model']['ssim']:.3f} / {training['model']['psnr']:.2f} / "
            f"{training['model']['structure']:.3f} |",
            f"| do nothing | {nothing['ssim']:.3f} / {nothing['psnr']:.2f} / {nothing['structure']:.3f} | "
            f"{training['do_nothing']['ssim']:.3f} / {training['do_nothing']['psnr']:.2f} / "
            f"{training['do_nothing']['structure']:.3f} |",
            "",
            f"Structure kept at 640x360: {model['structure'] / nothing['structure']:.3f} of doing nothing's. "
            "Display grid (input, resized only, the model at 640x360, the true frame): "
            "[images/demo-model-display.jpg](../images/demo-model-display.jpg).",
        ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
