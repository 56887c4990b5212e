"""The recipe study: which training recipe makes game→movie better than doing nothing?

  python -m training.study                 # every configuration on faces and frames (~55 min, 2-core CPU)
  python -m training.study --only cycle-lsgan residual-cg
  python -m training.study --kinds data/real-supertux-teal-orange-other-levels-v1 --only report resize-cg-id

Each configuration is a real `training.fit` run at one fixed, short CPU budget (`--quick`: 64×64,
200 images per domain, 3 epochs, batch 4), scored by `training.evaluate` against the synthetic
oracle's true renders (SSIM / PSNR / structure); on a real-footage oracle (a data set folder in
--kinds) also at display resolution (640x360 on the full-size frames). Finished runs
(runs/study/KIND-NAME/eval.json with the same flags) are reused, so an interrupted study continues
where it stopped. The table is written to runs/study/recipe-study.md (or runs/study/SECTION.md with
--section); file it into docs/benchmarks.md with `python scripts/devtools/benchmark_doc.py
recipe-study runs/study/recipe-study.md`. Re-run it whenever the networks change.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from livestyle.core.cli import ArgumentParser, run_command
from livestyle.core.declared import Declaration, Output
from livestyle.core.files import describe, write_json, write_text
from livestyle.runtime.machine import describe as describe_machine
from training import fit
from training.config import TrainConfig, to_argv
from training.looks import KEPT_BACK

STUDY_DIR = Path("runs") / "study"
BUDGET = ["--quick", "--seed", "0", "--save-every-minutes", "60"]
# Every configuration spells out all its settings on top of `--recipe report` (as TrainConfig
# overrides), so that its meaning stays fixed when the default recipe changes. Issue 2's starting
# default was "cycle-lsgan".
CYCLE_LSGAN = {"recipe": "report", "gan_loss": "lsgan", "lr_g": 2e-4, "lr_d": 2e-4, "lambdas": [0.0625, 0.625, 0.3125]}
RESIDUAL = {**CYCLE_LSGAN, "residual": True, "identity": "cyclegan", "lambdas": [0.1, 0.8, 0.1]}
PYRAMID = {**CYCLE_LSGAN, "upsample": "resize", "identity": "cyclegan", "architecture": "pyramid"}
# Issue 16, session 2: 2 levels, 128 px crops at the stored size, discriminators on the crops halved twice.
CROP_DLOW = {**PYRAMID, "pyramid_levels": 2, "crop": True, "image_size": 128, "d_downsample": 2}
# Each a lever of issue 3, measured against the first two.
CONFIGURATIONS = {
    "report": ({"recipe": "report"}, "the report's Table 1: λ per preset, BCE, lr 1e-3/1e-4"),
    "cycle-lsgan": (CYCLE_LSGAN, "λ .0625/.625/.3125, LSGAN, lr 2e-4, constant"),
    "cycle-lsgan-linear": ({**CYCLE_LSGAN, "lr_schedule": "linear"}, "cycle-lsgan + CycleGAN's linear decay"),
    "cycle-lsgan-cg-id": ({**CYCLE_LSGAN, "identity": "cyclegan"}, "cycle-lsgan + CycleGAN's identity L1(y, G(y))"),
    "residual-cg": (RESIDUAL, "output = input + learned change; CycleGAN identity; λ .1/.8/.1"),
    "residual-cg-adv": ({**RESIDUAL, "lambdas": [0.3, 0.6, 0.1]}, "residual-cg with a stronger adversary: λ .3/.6/.1"),
    "residual-cg-stable": ({**RESIDUAL, "pool_size": 50, "spectral_norm": True},
                           "residual-cg + history pool 50 + spectral norm in D"),
    "cycle-lsgan-resize": ({**CYCLE_LSGAN, "upsample": "resize"},
                           "cycle-lsgan + resize-convolution (report's Figure 7)"),
    # Added after the first eight: the two levers that helped most on their own, together.
    "resize-cg-id": ({**CYCLE_LSGAN, "upsample": "resize", "identity": "cyclegan"},
                     "cycle-lsgan + resize-convolution + CycleGAN's identity"),
    # Issue 16: the pyramid generator (issue 15) around resize-cg-id's network, and its levers.
    "pyramid": ({**PYRAMID}, "resize-cg-id's GANimorph in a 3-level Laplacian pyramid"),
    "pyramid-l2": ({**PYRAMID, "pyramid_levels": 2}, "pyramid with 2 levels (GANimorph at 1/4 a side)"),
    "pyramid-adv": ({**PYRAMID, "lambdas": [0.3, 0.6, 0.1]}, "pyramid, stronger adversary: λ .3/.6/.1"),
    "pyramid-adv-lr": ({**PYRAMID, "lambdas": [0.3, 0.6, 0.1], "lr_g": 1e-3},
                       "pyramid-adv with the generator's learning rate 1e-3"),
    "pyramid-crop": ({**PYRAMID, "crop": True, "image_size": 128},
                     "pyramid trained on 128 px crops at the stored size (4× the pixels per step)"),
    # The pyramid trains 150 steps in under 2 of the budget's 5 CPU minutes: spend the rest on steps.
    "pyramid-l2-long": ({**PYRAMID, "pyramid_levels": 2, "epochs": 8}, "pyramid-l2 for 8 epochs (400 steps)"),
    "pyramid-l2-long-mid": ({**PYRAMID, "pyramid_levels": 2, "epochs": 8, "lambdas": [0.15, 0.7, 0.15]},
                            "pyramid-l2-long with λ .15/.7/.15 (adversary between default and -adv)"),
    "pyramid-l2-long-lr": ({**PYRAMID, "pyramid_levels": 2, "epochs": 8, "lr_g": 5e-4},
                           "pyramid-l2-long with the generator's learning rate 5e-4"),
    # Session 2 of issue 16: levers against a GAN that wanders off (long runs got worse epoch by epoch
    # on SuperTux) and against a discriminator that judges grain and layout instead of the look.
    "pyramid-l2-long-ema": ({**PYRAMID, "pyramid_levels": 2, "epochs": 8, "ema": 0.99},
                            "pyramid-l2-long, validating and exporting an EMA of the generators (decay 0.99)"),
    "pyramid-l2-crop-dlow": (CROP_DLOW,
                             "pyramid-l2 on 128 px crops at the stored size, discriminators shown them halved twice "
                             "(32 px: tone and colour of a local region, no grain)"),
    "pyramid-l2-crop-dlow-long-ema": ({**CROP_DLOW, "epochs": 8, "ema": 0.99},
                                      "pyramid-l2-crop-dlow for 8 epochs with an EMA of the generators (decay 0.99)"),
    "pyramid-l2-crop-dlow-long-ema-adv": ({**CROP_DLOW, "epochs": 8, "ema": 0.99, "lambdas": [0.15, 0.7, 0.15]},
                                          "pyramid-l2-crop-dlow-long-ema with a stronger adversary, λ .15/.7/.15 "
                                          "(now that the discriminators judge tone, not layout or grain)"),
    # Issue 25: the white-box colour look. Stage 0 is the closed-form estimate (training.estimate, seconds);
    # stage 1 refines it adversarially, pulled toward it, with discriminators on 128 px crops halved twice.
    "look-stage0": ({**CYCLE_LSGAN, "architecture": "look", "look_stages": "0"},
                    "film look, stage 0 only: black/white points, S-curve, saturation, vignette (and grain, for "
                    "the display) in closed form"),
    "look-stage01": ({**CYCLE_LSGAN, "identity": "cyclegan", "architecture": "look", "look_stages": "0+1",
                      "crop": True, "image_size": 128, "d_downsample": 2, "epochs": 8, "lr_g": 2e-3,
                      "look_pull": 1.0},
                     "film look, stage 0 then 8 epochs of adversarial refinement (lr 2e-3) pulled toward it"),
    "look-pyramid-stage01": ({**CYCLE_LSGAN, "identity": "cyclegan", "architecture": "look+pyramid",
                              "look_stages": "0+1", "crop": True, "image_size": 128, "d_downsample": 2, "epochs": 8,
                              "lr_g": 2e-3, "look_pull": 1.0, "g_features": 16, "upsample": "resize",
                              "pyramid_levels": 2},
                             "look-stage01 with the GANimorph (N=16) in a 2-level pyramid after the look, as a "
                             "residual"),
}


# Methods that are not training runs, scored the same way (issue 16's baseline).
METHODS = {
    "colour-transfer": (None, "not learnt: Reinhard colour transfer, the game set's Lab mean and spread moved to "
                              "the movie set's"),
}
ENTRIES = {**CONFIGURATIONS, **METHODS}
# The rule that picks the default (issue 16): on every real-footage oracle, shown at display size.
RULE = {"ssim_margin": 0.01, "psnr_margin": 0.5, "structure_share": 0.9}


# Where and how a run is kept, and the recipe's label: not what it learns.
_BOOKKEEPING = ("data", "save_every_minutes", "evaluate", "time_limit_minutes", "device", "recipe")


def training_settings(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in _BOOKKEEPING}


def fit_target(kind: str) -> list[str]:
    """`faces`/`frames` train on the synthetic oracle; any other kind is a data set folder (e.g. a
    real-footage oracle from python -m training.oracle), trained in frames mode."""
    return [kind] if kind in ("faces", "frames") else ["frames", "--data", kind]


def label(kind: str) -> str:
    return kind if kind in ("faces", "frames") else Path(kind).name


def run_configuration(kind: str, name: str, overrides: dict, fresh: bool, root: Path = STUDY_DIR) -> dict:
    run_dir = root / f"{label(kind)}-{name}"
    record_path = run_dir / "study.json"
    flags = to_argv(overrides)
    wanted = training_settings(fit.build_config(fit.parse_args([*fit_target(kind), *BUDGET, *flags])).to_dict())
    if not fresh and record_path.is_file() and (run_dir / "config.json").is_file():
        # Reuse a finished run only if it trained with exactly these settings (a damaged one is re-run).
        try:
            trained = training_settings(json.loads((run_dir / "config.json").read_text()))
            # Settings added since the run was made had their defaults then.
            trained = {**{k: v for k, v in training_settings(TrainConfig().to_dict()).items() if k not in trained},
                       **trained}
            record = json.loads(record_path.read_text())
        except (OSError, ValueError, AttributeError):
            trained, record = None, None
        if trained == wanted and isinstance(record, dict) and isinstance(record.get("eval"), dict):
            print(f"{label(kind):6s} {name:20s} reused ({run_dir})", flush=True)
            return {**record, "flags": flags}
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    command = [sys.executable, "-m", "training.fit", *fit_target(kind), *BUDGET, *flags, "--run-dir", str(run_dir)]
    print(f"{label(kind):6s} {name:20s} {' '.join(command[2:])}", flush=True)
    started = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{label(kind)} {name} failed:\n{process.stderr[-2000:]}")
    evaluation = json.loads((run_dir / "eval.json").read_text())
    record = {"kind": kind, "name": name, "flags": flags, "seconds": seconds, "eval": evaluation}
    write_json(record_path, record)
    oracle = evaluation["oracle"]["game2movie"]
    print(f"{'':27s} {seconds:.0f} s   game→movie SSIM {oracle['model']['ssim']:.3f} "
          f"PSNR {oracle['model']['psnr']:.2f} dB (nothing {oracle['do_nothing']['ssim']:.3f} / "
          f"{oracle['do_nothing']['psnr']:.2f} dB)", flush=True)
    return record


def run_method(kind: str, name: str, fresh: bool, root: Path = STUDY_DIR) -> dict:
    """A method of METHODS on the oracle `kind`, with the study's data and sizes, scored like a run."""
    from livestyle.core.sizes import DEFAULT_SIZE
    from training import display
    from training.colour_transfer import fit_pair
    from training.data import read_manifest
    from training.evaluate import is_recorded, test_pairs, training_size_scores
    from training.synth import cached_dataset

    run_dir = root / f"{label(kind)}-{name}"
    record_path = run_dir / "study.json"
    if not fresh and record_path.is_file():
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) and isinstance(record.get("eval"), dict):
            print(f"{label(kind):6s} {name:20s} reused ({run_dir})", flush=True)
            return record
    config = fit.build_config(fit.parse_args([*fit_target(kind), *BUDGET]))
    data = Path(config.data) if config.data else cached_dataset(kind, config.count, config.image_size, config.seed)
    print(f"{label(kind):6s} {name:20s} fitted to {data}", flush=True)
    started = time.perf_counter()
    game2movie, movie2game = fit_pair(data, config.limit)
    evaluation, _ = training_size_scores(game2movie, movie2game, data, config.image_size, "cpu")
    manifest = read_manifest(data)
    if is_recorded(manifest):
        inputs, truths = test_pairs(data, manifest)
        stylize = display.generator_stylize(game2movie, DEFAULT_SIZE, None, "cpu")
        evaluation["display"], _ = display.display_scores(stylize, inputs, truths, DEFAULT_SIZE)
    record = {"kind": kind, "name": name, "flags": [], "seconds": time.perf_counter() - started, "eval": evaluation}
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(record_path, record)
    return record


def find(records: list[dict], name: str, kind: str) -> dict:
    return next(r for r in records if r["kind"] == kind and r["name"] == name)


def _score(record: dict, direction: str = "game2movie", which: str = "model") -> dict:
    return record["eval"]["oracle"][direction][which]


def beats(records: list[dict], name: str, kinds: list[str], other: str) -> bool:
    """`name` has higher game→movie SSIM and PSNR than `other` (a configuration, or
    "nothing" for doing nothing) on every kind."""
    for kind in kinds:
        record = find(records, name, kind)
        mine = _score(record)
        if other == "nothing":  # its own: a --crop run on synthetic data has its own, larger renders
            theirs = _score(record, which="do_nothing")
        else:
            theirs = _score(find(records, other, kind))
        if not (mine["ssim"] > theirs["ssim"] and mine["psnr"] > theirs["psnr"]):
            return False
    return True


def choose(records: list[dict], kinds: list[str]) -> str | None:
    """The rule of issue 3: among the configurations that beat the report's recipe in SSIM and
    PSNR on every oracle, the one with the highest mean game→movie SSIM."""
    candidates = [n for n in ranked(records, kinds) if n != "report" and beats(records, n, kinds, "report")]
    return candidates[0] if candidates else None


# Shortfalls are counted in these units when no configuration meets the rule (closest = least total).
_SHORTFALL_UNITS = {"ssim": 0.01, "psnr": 0.5, "structure": 0.01, "ssim_vs_colour_transfer": 0.01,
                    "psnr_vs_colour_transfer": 0.5}


def shown_on(records: list[dict], name: str, kind: str) -> dict:
    return find(records, name, kind)["eval"]["display"]


def rule_margins(records: list[dict], name: str, kind: str) -> dict:
    """How far `name` is past each requirement of the default rule on one real-footage oracle, shown
    at display size (negative: short of it): at least doing nothing's SSIM + 0.01 and PSNR + 0.5 dB,
    at least 0.9 of its structure, and above the colour-transfer baseline's SSIM and PSNR."""
    mine = shown_on(records, name, kind)
    model, nothing = mine["model"], mine["do_nothing"]
    margins = {"ssim": model["ssim"] - (nothing["ssim"] + RULE["ssim_margin"]),
               "psnr": model["psnr"] - (nothing["psnr"] + RULE["psnr_margin"]),
               "structure": model["structure"] - RULE["structure_share"] * nothing["structure"]}
    if any(r["kind"] == kind and r["name"] == "colour-transfer" for r in records):
        baseline = shown_on(records, "colour-transfer", kind)["model"]
        margins["ssim_vs_colour_transfer"] = model["ssim"] - baseline["ssim"]
        margins["psnr_vs_colour_transfer"] = model["psnr"] - baseline["psnr"]
    return margins


def choose_default(records: list[dict], kinds: list[str]) -> tuple[str | None, bool, dict]:
    """The rule of issue 16: among the trained configurations that meet every requirement of
    rule_margins on every real-footage oracle, the best mean SSIM as shown; if none does, the one
    whose summed shortfalls are least. (name, whether it meets the rule, its margins per oracle)."""
    real = [k for k in kinds if all("display" in r["eval"] for r in records if r["kind"] == k)]
    candidates = [n for n in ranked(records, kinds) if n not in METHODS]
    if not real or not candidates:
        return None, False, {}
    margins = {n: {k: rule_margins(records, n, k) for k in real} for n in candidates}

    def mean_shown_ssim(name: str) -> float:
        return sum(shown_on(records, name, k)["model"]["ssim"] for k in real) / len(real)

    def shortfall(name: str) -> float:
        return sum(max(0.0, -value) / _SHORTFALL_UNITS[key] for k in real for key, value in margins[name][k].items())

    qualified = [n for n in candidates if shortfall(n) == 0]
    if qualified:
        best = max(qualified, key=mean_shown_ssim)
        return best, True, margins[best]
    closest = min(candidates, key=lambda n: (shortfall(n), -mean_shown_ssim(n)))
    return closest, False, margins[closest]


# Issue 25's floors for the default, per real-footage oracle (game, movie footage), shown at 640×360 over
# doing nothing: (SSIM, dB); and structure at least this share of doing nothing's everywhere.
FLOORS = {("supertux", "other-levels"): (0.03, 1.5), ("supertux", "same-levels"): (0.05, 3.0),
          ("neverball", "same-levels"): (0.02, 2.0), ("neverball", "other-levels"): (0.01, 1.0)}
FLOOR_STRUCTURE = 0.95


def floor_of(kind: str) -> tuple[float, float] | None:
    """The floors for an oracle folder named like real-GAME-LOOK-MOVIE-vN (None: no floor for it)."""
    name = label(kind)
    game = name.split("-")[1] if name.startswith("real-") else ""
    movie = next((m for m in ("other-levels", "same-levels") if f"-{m}-v" in name), "")
    return FLOORS.get((game, movie))


def floors_table(records: list[dict], kinds: list[str]) -> str:
    """Each trained configuration's gain over doing nothing, as shown, against issue 25's floors."""
    floored = [k for k in kinds if floor_of(k) and all("display" in r["eval"] for r in records if r["kind"] == k)]
    if not floored:
        return ""
    lines = ["| configuration | " + " | ".join(f"{label(k)} (floor +{floor_of(k)[0]:g} / +{floor_of(k)[1]:g} dB)"
                                                for k in floored) + " | meets every floor |",
             "|" + "---|" * (2 + len(floored))]
    for name in [n for n in ranked(records, kinds) if n not in METHODS]:
        cells, meets = [], True
        for kind in floored:
            shown = shown_on(records, name, kind)
            model, nothing = shown["model"], shown["do_nothing"]
            ssim_floor, psnr_floor = floor_of(kind)  # type: ignore[misc]
            gain = (model["ssim"] - nothing["ssim"], model["psnr"] - nothing["psnr"])
            share = model["structure"] / max(nothing["structure"], 1e-9)
            ok = gain[0] >= ssim_floor and gain[1] >= psnr_floor and share >= FLOOR_STRUCTURE
            meets = meets and ok
            cells.append(f"{gain[0]:+.3f} / {gain[1]:+.2f} dB / {share:.3f}{'' if ok else ' ✗'}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {'yes' if meets else 'no'} |")
    return ("Issue 25's floors (gain in SSIM / dB over doing nothing as shown, structure as a share of doing "
            f"nothing's, at least {FLOOR_STRUCTURE}; ✗ = short of a floor):\n\n" + "\n".join(lines))


def floor_shortfall(records: list[dict], name: str, kind: str) -> float:
    """How far `name` is below issue 25's floors on one oracle as shown (0: meets them), in the units
    of _SHORTFALL_UNITS (0.01 SSIM, 0.5 dB, 0.01 of structure share)."""
    shown = shown_on(records, name, kind)
    model, nothing = shown["model"], shown["do_nothing"]
    ssim_floor, psnr_floor = floor_of(kind)  # type: ignore[misc]
    share = model["structure"] / max(nothing["structure"], 1e-9)
    return (max(0.0, ssim_floor - (model["ssim"] - nothing["ssim"])) / _SHORTFALL_UNITS["ssim"]
            + max(0.0, psnr_floor - (model["psnr"] - nothing["psnr"])) / _SHORTFALL_UNITS["psnr"]
            + max(0.0, FLOOR_STRUCTURE - share) / _SHORTFALL_UNITS["structure"])


def choose_by_floors(records: list[dict], kinds: list[str]) -> tuple[str | None, bool]:
    """Issue 25's rule: among trained configurations, the best mean SSIM as shown over the choosing
    oracles (every real one but the kept-back look's) among those meeting every floor there; if none
    does, the one whose summed shortfall is least. (name, whether it meets every floor)."""
    choosing = [k for k in kinds if "display" in find(records, records[0]["name"], k)["eval"]
                and KEPT_BACK not in label(k)]
    candidates = [n for n in ranked(records, kinds) if n not in METHODS]
    if not choosing or not candidates:
        return None, False

    def shortfall(name: str) -> float:
        return sum(floor_shortfall(records, name, k) for k in choosing if floor_of(k))

    def mean_shown_ssim(name: str) -> float:
        return sum(shown_on(records, name, k)["model"]["ssim"] for k in choosing) / len(choosing)

    meeting = [n for n in candidates if shortfall(n) == 0]
    if meeting:
        return max(meeting, key=mean_shown_ssim), True
    return min(candidates, key=lambda n: (shortfall(n), -mean_shown_ssim(n))), False


def colour_part(record: dict) -> dict | None:
    """The display scores of a film-look run's colour part alone (its soft focus, bloom and vignette set to
    zero): what a .cube carries. Kept in the run folder (colour_part.json, colour_part.safetensors); None for a
    run that is not a film look."""
    run = Path(record["eval"].get("run", ""))
    cached = run / "colour_part.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    if not (run / "game2movie.safetensors").is_file() or "display" not in record["eval"]:
        return None
    from livestyle.model.film import FilmLook
    from livestyle.model.weights import load_weights, save_generator
    from training.evaluate import evaluate_weights

    model, _ = load_weights(run / "game2movie.safetensors")
    if not isinstance(model, FilmLook):
        return None
    colour_only = FilmLook(model.colour.curve_points)
    colour_only.colour.load_state_dict(model.colour.state_dict())
    save_generator(colour_only, run / "colour_part.safetensors", "game2movie")
    scores = evaluate_weights(run / "colour_part.safetensors", record["kind"], device="cpu")["display"]
    write_json(cached, scores)
    return scores


def colour_part_table(records: list[dict], kinds: list[str], name: str) -> str:
    """Issue 25: does the colour part alone (what `--format cube` bakes) gain ≥ 0.5 dB on every real oracle?"""
    lines = [f"The colour part alone of `{name}` (what `--format cube` bakes; soft focus, bloom and vignette off), "
             "shown at 640x360:", "",
             "| oracle | whole look | colour part alone | doing nothing | colour part's gain |",
             "|---|---|---|---|---|"]
    for kind in kinds:
        record = find(records, name, kind)
        scores = colour_part(record)
        if scores is None:
            continue
        whole, nothing = record["eval"]["display"]["model"], scores["do_nothing"]
        gain = scores["model"]["psnr"] - nothing["psnr"]
        lines.append(f"| {label(kind)} | {format_cell(whole)} | {format_cell(scores['model'])} | "
                     f"{format_cell(nothing)} | {gain:+.2f} dB{'' if gain >= 0.5 else ' ✗ (under 0.5 dB)'} |")
    return "\n".join(lines) if len(lines) > 4 else ""


def describe_choice(name: str | None, qualified: bool, margins: dict) -> str:
    if name is None:
        return "No real-footage oracle in this study: the default rule (issue 16) needs one."
    if qualified:
        return (f"Default by the rule (issue 16): `{name}` — it beats doing nothing on every real-footage oracle "
                f"as shown (≥ +{RULE['ssim_margin']} SSIM, ≥ +{RULE['psnr_margin']} dB, ≥ {RULE['structure_share']} "
                f"of its structure) and the colour-transfer baseline, with the best mean SSIM among those that do.")
    short = "; ".join(f"{label(kind)}: " + ", ".join(f"{key.replace('_', ' ')} {value:+.3f}"
                                                      for key, value in values.items() if value < 0)
                      for kind, values in margins.items() if any(v < 0 for v in values.values()))
    return (f"No configuration meets the default rule (issue 16). Closest: `{name}`, short of it by {short} "
            f"(SSIM and structure in absolute units, PSNR in dB).")


def table(records: list[dict], kinds: list[str]) -> str:
    def cell(record, direction, which="model"):
        text = format_cell(_score(record, direction, which))
        own, shared = _score(record, direction, "do_nothing"), _score(first[record["kind"]], direction, "do_nothing")
        if which == "model" and (own["ssim"], own["psnr"]) != (shared["ssim"], shared["psnr"]):
            text += f" (its own test images: nothing {format_cell(own)})"
        return text

    def shown(record, which="model"):  # game→movie at display resolution (recorded footage)
        return format_cell(record["eval"]["display"][which]) if "display" in record["eval"] else "–"

    first = {k: next(r for r in records if r["kind"] == k) for k in kinds}
    displayed = [k for k in kinds if "display" in first[k]["eval"]]
    header = "| configuration | what | " + " | ".join(
        f"{label(k)} game→movie | {label(k)} movie→game" for k in kinds) + "".join(
        f" | {label(k)} game→movie at display size" for k in displayed) + \
        " | mean game→movie SSIM | beats `report` | beats doing nothing |"
    lines = [header, "|" + "---|" * (5 + 2 * len(kinds) + len(displayed))]
    lines.append("| *do nothing* | input scored against the truth | " + " | ".join(
        " | ".join(cell(first[k], d, "do_nothing") for d in ("game2movie", "movie2game")) for k in kinds)
        + "".join(f" | {shown(first[k], 'do_nothing')}" for k in displayed) + " | | | |")
    has_report = any(r["name"] == "report" for r in records)
    for name in ranked(records, kinds):
        rows = {r["kind"]: r for r in records if r["name"] == name}
        mean = sum(_score(rows[k])["ssim"] for k in kinds) / len(kinds)
        versus_report = "" if name == "report" or not has_report else \
            ("yes" if beats(records, name, kinds, "report") else "no")
        versus_nothing = "yes" if beats(records, name, kinds, "nothing") else "no"
        lines.append(f"| `{name}` | {ENTRIES[name][1]} | " + " | ".join(
            f"{cell(rows[k], 'game2movie')} | {cell(rows[k], 'movie2game')}" for k in kinds)
            + "".join(f" | {shown(rows[k])}" for k in displayed)
            + f" | {mean:.3f} | {versus_report} | {versus_nothing} |")
    return "\n".join(lines)


def format_cell(scores: dict) -> str:
    """SSIM / PSNR / structure (the last missing in runs scored before it existed)."""
    structure = f" / {scores['structure']:.3f}" if "structure" in scores else ""
    return f"{scores['ssim']:.3f} / {scores['psnr']:.2f}{structure}"


def ranked(records: list[dict], kinds: list[str]) -> list[str]:
    names = [n for n in ENTRIES if sum(r["name"] == n for r in records) == len(kinds)]
    return sorted(names, key=lambda n: -sum(_score(r)["ssim"] for r in records if r["name"] == n))


def write_table(section: str, body: str) -> None:
    """The study's table as a docs/benchmarks.md section, written beside its runs; a dev helper files it
    into the docs (training never writes the docs itself)."""
    path = write_text(STUDY_DIR / f"{section}.md", body)
    print(f"\nwrote {path}; file it into docs/benchmarks.md with: "
          f"python scripts/devtools/benchmark_doc.py {section} {path}")


def declare(args) -> Declaration:
    """The study reads the data sets it is given and writes its runs and tables under runs/study (its own,
    reused and replaced by design); for the synthetic kinds it also makes their cached sets under data/."""
    kinds = args.kinds.split(",")
    outputs = [Output("the study's runs", STUDY_DIR, folder=True, owned=True)]
    if any(kind in ("faces", "frames") for kind in kinds):
        outputs.append(Output("the cached synthetic sets", Path("data"), folder=True, owned=True))
    return Declaration("training.study", {"--kinds": [kind for kind in kinds if kind not in ("faces", "frames")]},
                       tuple(outputs))


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m training.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="faces,frames",
                        help="comma-separated oracles: faces, frames (synthetic) or data set folders, e.g. "
                             "data/real-supertux-teal-orange-other-levels-v1 (default faces,frames)")
    parser.add_argument("--only", nargs="+", choices=sorted(ENTRIES), help="run just these")
    parser.add_argument("--fresh", action="store_true", help="rerun even finished configurations")
    parser.add_argument("--no-write", action="store_true", help="write no table file (runs/study/SECTION.md)")
    parser.add_argument("--section", help="write this study's table as this docs/benchmarks.md section, to "
                        "runs/study/SECTION.md, for scripts/devtools/benchmark_doc.py to file in (without it, "
                        "only the full faces,frames study is written, to recipe-study)")
    parser.add_argument("--title", default="Study", help="with --section: the section's heading")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv, lambda args: run(args, argv), lambda error, args: describe(error))


def run(args, argv: list[str] | None) -> int:
    declare(args).check()
    kinds = args.kinds.split(",")
    names = args.only or list(ENTRIES)
    records = [run_method(kind, name, args.fresh) if name in METHODS else
               run_configuration(kind, name, CONFIGURATIONS[name][0], args.fresh)
               for name in names for kind in kinds]
    text = table(records, kinds)
    chosen = choose(records, kinds) if any(r["name"] == "report" for r in records) else None
    verdict = (f"Choice (the best mean game→movie SSIM among those that beat `report` in SSIM and PSNR on "
               f"every oracle): `{chosen}`." if chosen else
               "No configuration beats `report` in SSIM and PSNR on every oracle.")
    text += "\n\n" + verdict
    if any("display" in r["eval"] for r in records):
        text += "\n\n" + describe_choice(*choose_default(records, kinds))
        floors = floors_table(records, kinds)
        text += "\n\n" + floors if floors else ""
        chosen_by_floors, meets = choose_by_floors(records, kinds)
        colour = colour_part_table(records, kinds, chosen_by_floors) if chosen_by_floors else ""
        text += "\n\n" + colour if colour else ""
        if floors and chosen_by_floors:
            text += (f"\n\nIssue 25's rule (floors on the oracles with floors, best mean SSIM as shown on every real "
                     f"oracle but the kept-back look's, {KEPT_BACK}): `{chosen_by_floors}` — "
                     + ("it meets every floor." if meets else "no configuration meets every floor; it falls "
                        "least short of them."))
    print("\n" + text)
    minutes = sum(r["seconds"] for r in records) / 60
    if args.section and not args.no_write:
        command = " ".join(["python -m training.study", *(argv if argv is not None else sys.argv[1:])])
        body = (f"## {args.title}\n\n`{command}` — {describe_machine()}. Budget per trained configuration: "
                f"`training.fit frames --quick` (64×64, 200 images per domain, 3 epochs, batch 4 = 150 steps, seed 0) "
                f"unless its row says otherwise; {len(records)} rows, {minutes:.0f} min in all. Cells: SSIM / PSNR "
                f"(dB) / structure against the oracle's true renders, at the training size and, on real footage, "
                f"run at 640x360 and shown at 640x360 (the display columns). Sorted by mean game→movie SSIM at the "
                f"training size.\n\n{text}\n")
        write_table(args.section, body)
    elif not args.no_write and not args.only and kinds == ["faces", "frames"]:
        body = (f"## Recipe study on the synthetic oracle (`python -m training.study`)\n\n"
                f"{describe_machine()}. Budget per configuration: `training.fit KIND --quick` (64×64, 200 images "
                f"per domain, 3 epochs, batch 4 = 150 steps, seed 0); {len(records)} runs, "
                f"{minutes:.0f} min in all. Cells: oracle SSIM / PSNR (dB) / structure (gradient-magnitude "
                f"correlation) on the 25 paired test scenes at 64 px. Sorted by mean game→movie SSIM.\n\n{text}\n")
        write_table("recipe-study", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
