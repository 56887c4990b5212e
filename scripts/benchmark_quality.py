"""The quality baseline: what the player sees, on every oracle, for the default recipe, the report's
recipe and the bundled demo model.

  python scripts/benchmark_quality.py                      # everything (~1 h on a 2-core CPU)
  python scripts/benchmark_quality.py --oracles synthetic-frames real-supertux-teal-orange-other-levels
  python scripts/benchmark_quality.py --budget full        # the full preset instead of --quick (a GPU)

Each recipe is a real `training.fit` run (`--quick`: 64×64, 200 images per domain, 3 epochs,
batch 4, seed 0; or the full preset with --budget full) on each oracle: the synthetic faces and
frames sets and the real-footage oracles of training.oracle (ORACLES there). The demo model
(livestyle/assets/demo_game2movie.safetensors) is scored as it ships. Scores: game→movie SSIM /
PSNR / structure against the true frames at the training size (64 px) and, on recorded footage,
at display resolution (run at 640x360 through livestyle.Stylizer on the full-size frames, shown
at their own size), beside doing nothing and the frame only resized. Finished runs under
runs/quality/ are reused. The table goes to docs/benchmarks/ (section quality-baseline).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from devtools.benchmark_doc import declared_main, machine, page_output, update_section
from livestyle.core.declared import Declaration, Output
from livestyle.core.files import write_json
from livestyle.runtime.timing import cache_output
from training import display, fit, oracle, study
from training.evaluate import evaluate_weights
from training.synth import cached_dataset

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "livestyle" / "assets" / "demo_game2movie.safetensors"
RUNS = Path("runs") / "quality"
DATA = Path("data")  # where training.synth and training.oracle cache the sets they make (cached_dataset, cached_oracle)
RECIPES = {"default": {}, "report": {"recipe": "report"}}
BUDGETS = {"quick": ["--quick", "--seed", "0", "--save-every-minutes", "60"],
           "full": ["--seed", "0", "--save-every-minutes", "60"]}
TRAINING_SIZE = 64  # the --quick size; the demo model is scored at it too
DEMO_LIVE_SIZE = "320x184"  # what the live app runs the demo model at on a 2-core CPU (README, live app)


def oracle_names() -> list[str]:
    return ["synthetic-faces", "synthetic-frames"] + [f"real-{g}-{look}-{movie}" for g, look, movie in oracle.ORACLES]


def kind_for(name: str) -> str:
    """What study.run_configuration trains on: a synthetic kind or the built oracle's folder."""
    if name.startswith("synthetic-"):
        return name.removeprefix("synthetic-")
    game, look, movie = next(entry for entry in oracle.ORACLES if name == f"real-{'-'.join(entry)}")
    return str(oracle.cached_oracle(game, look, movie))


def demo_scores(name: str, kind: str, fresh: bool, budget: str, size: str | None = None) -> dict:
    out = RUNS / budget / f"demo-{name}{'-' + size if size else ''}.json"
    if out.is_file() and not fresh:
        print(f"{name:45s} demo     reused ({out})", flush=True)
        return json.loads(out.read_text())
    data = kind if kind not in ("faces", "frames") else synthetic_data(kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    # runs/quality is this script's own: --fresh scores the demo again over its earlier scores.
    return evaluate_weights(DEMO, data, TRAINING_SIZE, size=size, out=out, overwrite=True)


def synthetic_data(kind: str) -> Path:
    """The synthetic set the runs of this budget train and test on (as training.fit picks it)."""
    config = fit.build_config(fit.parse_args([kind, *study.BUDGET]))
    return cached_dataset(config.preset, config.count, config.image_size, config.seed)


def cells(result: dict) -> dict:
    row = {"train": result["oracle"]["game2movie"]}
    if "display" in result:
        row["display"] = result["display"]
    return row


def table(rows: list[tuple[str, str, dict]]) -> str:
    lines = ["| oracle | model | at 64 px: model | at 64 px: do nothing | shown at 640×360: model | resized only "
             "| do nothing | better than doing nothing? |",
             "|---|---|---|---|---|---|---|---|"]
    for name, model, result in rows:
        train = result["oracle"]["game2movie"]
        shown = result.get("display")
        verdicts = [f"64 px: {'yes' if display.verdict(train).startswith('better') else '**no**'}"]
        if shown:
            verdicts.append(f"shown: {'yes' if display.verdict(shown).startswith('better') else '**no**'}")
        display_cells = ([study.format_cell(shown[k]) for k in ("model", "resized_only", "do_nothing")]
                         if shown else ["–"] * 3)
        lines.append(f"| {name} | {model} | {study.format_cell(train['model'])} | "
                     f"{study.format_cell(train['do_nothing'])} | {' | '.join(display_cells)} | "
                     f"{', '.join(verdicts)} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oracles", nargs="+", choices=oracle_names(), default=oracle_names())
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--budget", choices=list(BUDGETS), default="quick")
    parser.add_argument("--no-demo", action="store_true", help="leave the bundled demo model out")
    parser.add_argument("--fresh", action="store_true", help="rerun even finished runs")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks/ alone")
    return parser


def section_name(args) -> str:
    return "quality-baseline" if args.budget == "quick" else "quality-baseline-full"


def declare(args) -> Declaration:
    """It reads the demo model and, for the real-footage oracles, the recordings; it writes its runs, the demo's
    scores and the rows under runs/quality (its own: finished runs are reused, others replaced), the synthetic
    and oracle sets it trains on, cached under data/, the backend cache (the scoring at display size may time
    backends), and its section of the benchmark pages unless --no-write."""
    real = any(name.startswith("real-") for name in args.oracles)
    inputs = {"the demo model": None if args.no_demo else DEMO, "the recordings": oracle.RECORDINGS if real else None}
    outputs = [Output("the quality runs", RUNS, folder=True, owned=True),
               Output("the cached data sets", DATA, folder=True, owned=True), cache_output()]
    if not args.no_write:
        outputs.append(page_output(section_name(args)))
    return Declaration("benchmark_quality", inputs, tuple(outputs))


def main(argv=None) -> int:
    return declared_main(argv, build_parser, declare, measure)


def measure(args) -> int:
    """Every run and score, the table printed and kept, then (unless --no-write) filed; the exit code."""
    study.BUDGET = BUDGETS[args.budget]
    rows, training_seconds = [], 0.0
    for name in args.oracles:
        kind = kind_for(name)
        for recipe in args.recipes:
            record = study.run_configuration(kind, recipe, RECIPES[recipe], args.fresh, root=RUNS / args.budget)
            rows.append((name, f"`{recipe}` recipe, {args.budget}", record["eval"]))
            training_seconds += record["seconds"]
        if not args.no_demo:
            rows.append((name, "bundled demo model", demo_scores(name, kind, args.fresh, args.budget)))
            if name.startswith("real-"):  # also at the live app's CPU size for it, shown at 640x360
                rows.append((name, f"bundled demo model run at {DEMO_LIVE_SIZE}",
                             demo_scores(name, kind, args.fresh, args.budget, DEMO_LIVE_SIZE)))
    text = table(rows)
    print("\n" + text)
    write_json(RUNS / f"quality-{args.budget}.json", {"rows": rows})
    if not args.no_write:
        minutes = training_seconds / 60
        budget = ("`--quick` (64×64, 200 images per domain, 3 epochs, batch 4 = 150 steps, seed 0)"
                  if args.budget == "quick" else "the full preset (seed 0)")
        body = (f"## Quality baseline: what the player sees (`python scripts/benchmark_quality.py`)\n\n"
                f"{machine()}. {len(rows)} rows; the training runs took {minutes:.0f} min in all (each "
                f"`training.fit` process with its final evaluation, some measured while other work shared the CPU). "
                f"Training: "
                f"{budget}. Cells: game→movie SSIM / PSNR (dB) / structure (correlation of gradient "
                f"magnitudes with the true frame) on the paired test frames. At 64 px: the test frames squashed "
                f"to the training size. Shown at 640×360: real footage only — the model run through livestyle.Stylizer "
                f"at 640×360 (or the size the row names) on the full-size recorded frames, shown at their own "
                f"640×360; *resized only* is the frame shrunk to that inference size and back without a model "
                f"(equal to doing nothing when it is 640×360). A row is better than doing nothing only with "
                f"higher SSIM, PSNR and structure.\n\n{text}\n")
        section = section_name(args)
        print(f"\nwrote {update_section(section, body)} (section {section})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
