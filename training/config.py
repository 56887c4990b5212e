"""A training run's settings: one `TrainConfig` dataclass, the presets and recipes as named
overrides of it, and the command line built from its fields (so a new option is one field).

Precedence, lowest first: the field defaults, the preset (Table 1 of the report: data size and
epochs), the recipe, `--quick`, then the flags given on the command line. Each field's metadata
holds its flag, help text, range, and whether it may change when a run is resumed; the same
metadata checks settings read back from a checkpoint or config.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from livestyle.core.checks import MAX_FEATURES, FileCheck
from livestyle.core.cli import ArgumentParser, bounded_int, finite_float
from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import MAX_SIDE, check_side
from livestyle.model.pyramid import MAX_LEVELS
from livestyle.model.weights import MAX_FACES_SIDE
from training.losses import GAN_LOSSES, IDENTITY_TERMS

ARCHITECTURES = ("plain", "pyramid", "look", "look+pyramid")
# With --crop and no --data, the synthetic set is rendered this many times larger than --image-size,
# so that a crop shows part of a scene at about the scale a display shows it.
CROP_RENDER_SCALE = 4


class TrainingError(LivestyleError):
    """A problem the user can fix; main() prints it as one line and exits non-zero."""


def option(default, help: str | None = None, *, kind=None, low=None, high=None, above=None, choices=None,
           flag: str | None = None, resume: bool = False, cli: bool = True):
    """A TrainConfig field. kind: int, float, str, bool, or "lambdas"; resume: may differ on --resume."""
    return field(default=default, metadata={"help": help, "kind": kind, "low": low, "high": high, "above": above,
                                            "choices": choices, "flag": flag, "resume": resume, "cli": cli})


@dataclass
class TrainConfig:
    preset: str = option("faces", kind=str, choices=("faces", "frames"), cli=False)
    recipe: str = option("default", kind=str, choices=("default", "look-refined", "pyramid", "report"), cli=False)
    quick: bool = option(False, kind=bool, cli=False)
    data: str | None = option(None, "data set folder (standard layout); default: the preset's synthetic set, "
                              "generated once under data/", kind=str)
    count: int = option(1000, kind=int, low=1, high=10**6, cli=False)  # synthetic images per domain
    epochs: int = option(36, kind=int, low=1, high=100_000, resume=True)
    batch_size: int = option(1, "per process (default 1, as the report)", kind=int, low=1, high=65_536)
    image_size: int = option(128, "square training size, divisible by 8 (default 128)", kind=int, low=16,
                             high=MAX_SIDE)
    limit: int | None = option(None, "images per domain to train on (default: all)", kind=int, low=1)
    lr_g: float = option(2e-4, "generator learning rate", kind=float, high=1, above=0)
    lr_d: float = option(2e-4, "discriminator learning rate", kind=float, high=1, above=0)
    lambdas: list = option(None, "adversarial,cycle,identity weights summing to 1, e.g. 0.7,0.2,0.1", kind="lambdas")
    gan_loss: str = option("lsgan", kind=str, choices=GAN_LOSSES)
    upsample: str = option("deconv", "decoder upsampling: transposed conv (report) or resize-convolution",
                           kind=str, choices=("deconv", "resize"))
    lr_schedule: str = option("constant", "constant (report), or CycleGAN's: constant for the first half of the "
                              "epochs, then linearly down towards 0", kind=str, choices=("constant", "linear"))
    identity: str = option("report", "identity loss: report = L1(x, G(x)); cyclegan = L1(y, G(y)) for y already "
                           "in G's target domain", kind=str, choices=tuple(IDENTITY_TERMS))
    residual: bool = option(False, "generators predict a change to the input, starting at 'do nothing' (plain "
                            "architecture; the pyramid's always does)", kind=bool)
    architecture: str = option("plain", "generator: plain = the report's GANimorph on the whole image; pyramid = "
                               "a Laplacian pyramid around it (livestyle.model.pyramid): the GANimorph changes the low "
                               "frequencies, light networks adjust the detail bands, any inference size; look = a "
                               "white-box film look (livestyle.model.film: soft focus, bloom, vignette, then tone "
                               "curves, colour matrix, split tone; a few dozen bounded numbers; its colour part "
                               "exports as a .cube); look+pyramid = that look, then the pyramid as a residual "
                               "(--g-features, --pyramid-levels)",
                               kind=str, choices=ARCHITECTURES)
    look_stages: str = option("0", "look architecture: 0 = the closed-form estimate only (training.estimate, seconds); "
                              "0+1 = then --epochs of adversarial refinement pulled toward it", kind=str,
                              choices=("0", "0+1"))
    look_pull: float = option(1.0, "look stage 1: weight of the pull toward the stage-0 estimate (sum of squared "
                              "parameter differences; 0 = none)", kind=float, low=0, high=1e6)
    pyramid_levels: int = option(3, "bands of the pyramid architecture; its GANimorph runs at 1/2^L of the size "
                                 "(default 3)", kind=int, low=1, high=MAX_LEVELS)
    crop: bool = option(False, "train on random --image-size crops of each image at its stored size instead of "
                        "the whole image squashed to a square (images must be at least that large: "
                        "python -m training.prepare frames --fit keep)", kind=bool)
    ema: float = option(0.0, "validate, keep and export an exponential moving average of the generators' weights "
                        "with this decay per step, e.g. 0.99 (0 = off: the weights as trained)", kind=float, low=0,
                        high=0.9999)
    d_downsample: int = option(0, "discriminators judge the images halved up to N times (Gaussian pyramid), never "
                               "below 16 px: tone and colour, not grain and pixels (0 = full size)", kind=int, low=0,
                               high=4)
    pool_size: int = option(0, "discriminators also see up to N past fakes (CycleGAN's history pool; 0 = off)",
                            kind=int, low=0, high=100_000)
    spectral_norm: bool = option(False, "spectral normalisation on every discriminator conv", kind=bool)
    g_features: int = option(64, "generator width N (default 64)", kind=int, low=1, high=MAX_FEATURES)
    d_features: int = option(32, "discriminator width N (default 32)", kind=int, low=1, high=MAX_FEATURES)
    augment: bool = option(True, "switch off the report's Table 2 augmentation", kind=bool, flag="--no-augment")
    device: str = option("auto", kind=str, choices=("auto", "cpu", "cuda"))
    amp: bool = option(False, "bf16 autocast (CUDA only)", kind=bool)
    seed: int = option(0, kind=int, low=0, high=2**32 - 1)
    save_every_minutes: float = option(1.0, "also checkpoint within an epoch this often (default 1; 0 = every step)",
                                       kind=float, low=0, resume=True)
    time_limit_minutes: float | None = option(None, "stop (validated, checkpointed, resumable) after this much "
                                              "training time", kind=float, above=0, resume=True)
    evaluate: bool = option(True, "skip the test-set evaluation at the end", kind=bool, flag="--no-eval",
                            resume=True)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}

# Table 1 of the report: data per domain, epochs, and its loss weights per preset.
PRESETS = {
    "faces": {"count": 1000, "epochs": 36, "lambdas": [0.7, 0.2, 0.1]},
    "frames": {"count": 1500, "epochs": 40, "lambdas": [0.5, 0.3, 0.2]},
}
RECIPES = {
    "report": {"lr_g": 1e-3, "lr_d": 1e-4, "gan_loss": "bce", "architecture": "plain"},  # λs per preset, above
    # Issue 25's rule (python -m training.study, docs/benchmarks/quality.md): the study's look-stage0 — a
    # white-box film look estimated in closed form from the footage (black/white points, S-curve, saturation,
    # vignette, grain; training.estimate), in seconds. It meets every floor on the five choosing oracles;
    # stage 1 (--look-stages 0+1: adversarial refinement pulled toward it) added nothing on top of it there.
    # The other settings are those it was measured with; stage 0 trains no network, so they only matter
    # with --look-stages 0+1.
    "default": {"lr_g": 2e-4, "lr_d": 2e-4, "gan_loss": "lsgan", "lambdas": [0.0625, 0.625, 0.3125],
                "architecture": "look", "look_stages": "0"},
    # Stage 1 on top, as measured (the study's look-stage01): python -m training.fit frames --recipe look-refined
    "look-refined": {"lr_g": 2e-3, "lr_d": 2e-4, "gan_loss": "lsgan", "lambdas": [0.0625, 0.625, 0.3125],
                     "identity": "cyclegan", "architecture": "look", "look_stages": "0+1", "crop": True,
                     "d_downsample": 2},
    # Issue 16's default, kept by name: a 2-level Laplacian pyramid around the GANimorph, on crops, an EMA.
    "pyramid": {"lr_g": 2e-4, "lr_d": 2e-4, "gan_loss": "lsgan", "lambdas": [0.0625, 0.625, 0.3125],
                "upsample": "resize", "identity": "cyclegan", "architecture": "pyramid", "pyramid_levels": 2,
                "crop": True, "d_downsample": 2, "ema": 0.99},
}
# A small, honest configuration of the same training that finishes in minutes on a 2-core CPU.
QUICK = {"image_size": 64, "count": 250, "limit": 200, "epochs": 3, "batch_size": 4}
# What --quick keeps of a recipe: look-refined's crops stay at 128 px (64 px crops of a 640x360 frame
# would show the discriminators 16 px), and its cheap pyramid spends the ~5 CPU minutes on 8 epochs
# (400 steps); that is what the study measured.
QUICK_BY_RECIPE = {"look-refined": {"image_size": 128, "epochs": 8}, "pyramid": {"image_size": 128, "epochs": 8}}


def flag_name(name: str) -> str:
    return FIELDS[name].metadata["flag"] or "--" + name.replace("_", "-")


def make_config(preset: str, recipe: str = "default", quick: bool = False, **overrides) -> TrainConfig:
    """Defaults, then the preset, the recipe, --quick and the explicit overrides; checked."""
    config = TrainConfig(preset=preset, recipe=recipe, quick=quick)
    config = dataclasses.replace(config, **PRESETS[preset])
    config = dataclasses.replace(config, **RECIPES[recipe])
    if quick:
        config = dataclasses.replace(config, **{**QUICK, **QUICK_BY_RECIPE.get(recipe, {})})
    config = dataclasses.replace(config, **overrides)
    validate(config)
    return config


def parse_lambdas(text: str | list) -> list[float]:
    try:
        values = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except (ValueError, TypeError):
        raise TrainingError(f"--lambdas {text!r}: expected three numbers like 0.7,0.2,0.1") from None
    if len(values) != 3 or not all(math.isfinite(v) and v >= 0 for v in values):
        raise TrainingError(f"--lambdas {text!r}: expected three non-negative numbers "
                            "(adversarial,cycle,identity)")
    if abs(sum(values) - 1.0) > 1e-6:
        raise TrainingError(f"--lambdas {text!r} sum to {sum(values):g}; the report bounds them "
                            "to sum to 1 (Equation 1), e.g. 0.7,0.2,0.1")
    return values


def validate(config: TrainConfig) -> None:
    config.lambdas = parse_lambdas(config.lambdas)
    try:
        check_side(config.image_size, "--image-size")
    except LivestyleError as error:
        raise TrainingError(f"{error}; the generator halves the size three times") from None
    if config.preset == "faces" and config.image_size > MAX_FACES_SIDE:
        raise TrainingError(f"--image-size {config.image_size}: a face crop is at most {MAX_FACES_SIDE} px (the "
                            f"report uses 64 to 256); choose a smaller size")
    for name in ("epochs", "batch_size", "g_features", "d_features"):
        if getattr(config, name) < 1:
            raise TrainingError(f"{flag_name(name)} {getattr(config, name)}: must be at least 1")
    if config.pool_size < 0:
        raise TrainingError(f"--pool-size {config.pool_size}: must be 0 (off) or more")
    if config.limit is not None and config.limit < 1:
        raise TrainingError(f"--limit {config.limit}: must be at least 1 image per domain")
    for name in ("lr_g", "lr_d"):
        value = getattr(config, name)
        if not (math.isfinite(value) and value > 0):
            raise TrainingError(f"{flag_name(name)} {value}: must be a positive number")


def from_file(saved: dict, check: FileCheck) -> TrainConfig:
    """Settings read back from a checkpoint or config.json: every field's type and range checked
    (runs from before a setting existed get its default; unknown keys are ignored)."""
    values = {}
    for name, spec in FIELDS.items():
        if name not in saved:
            continue
        meta = spec.metadata
        kinds = {int: (int,), float: (int, float), str: (str,), bool: (bool,), "lambdas": (list,)}[meta["kind"]]
        if spec.default is None or name == "lambdas":
            kinds = (*kinds, type(None))
        low = meta["low"] if meta["low"] is not None else meta["above"]
        values[name] = check.get(saved, name, kinds, low=low, high=meta["high"], choices=meta["choices"],
                                 name=f"config.{name}")
    return TrainConfig(**values)


# ----------------------------------------------------------------------------- command line

def add_options(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, defaulting to None so that only explicit flags override."""
    for name, spec in FIELDS.items():
        meta = spec.metadata
        if not meta["cli"]:
            continue
        flag, kind = flag_name(name), meta["kind"]
        if kind is bool and meta["flag"] is not None:
            # --no-augment, --no-eval: a flag that names the change from the default.
            parser.add_argument(flag, dest=name, action="store_const", const=not spec.default, help=meta["help"])
        elif kind is bool:
            # --crop / --no-crop: either way, since a recipe may have switched it on.
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                                help=meta["help"])
        elif kind == "lambdas":
            parser.add_argument(flag, dest=name, help=meta["help"])
        elif meta["choices"] is not None:
            parser.add_argument(flag, dest=name, choices=meta["choices"], help=meta["help"])
        elif kind is int:
            parser.add_argument(flag, dest=name, type=bounded_int(meta["low"], meta["high"]), help=meta["help"])
        elif kind is float:
            parser.add_argument(flag, dest=name, type=finite_float(meta["low"], meta["high"], above=meta["above"]),
                                help=meta["help"])
        else:
            parser.add_argument(flag, dest=name, type=Path, help=meta["help"])


def explicit_overrides(args: argparse.Namespace) -> dict:
    overrides = {name: getattr(args, name) for name, spec in FIELDS.items()
                 if spec.metadata["cli"] and getattr(args, name, None) is not None}
    if "data" in overrides:
        overrides["data"] = str(overrides["data"])
    return overrides


def may_change_on_resume(name: str) -> bool:
    return FIELDS[name].metadata["resume"]


def to_argv(overrides: dict) -> list[str]:
    """Flags that set these fields (for runs started as subprocesses, e.g. the recipe study)."""
    argv = []
    for name, value in overrides.items():
        if name == "recipe":
            argv += ["--recipe", value]
        elif FIELDS[name].metadata["kind"] is bool:
            if FIELDS[name].metadata["flag"] is None:
                argv.append(flag_name(name) if value else "--no-" + flag_name(name)[2:])
            elif value != FIELDS[name].default:
                argv.append(flag_name(name))
        elif name == "lambdas":
            argv += ["--lambdas", ",".join(f"{v:g}" for v in value)]
        else:
            argv += [flag_name(name), str(value)]
    return argv


__all__ = ["ArgumentParser", "TrainConfig", "TrainingError", "make_config", "PRESETS", "RECIPES", "QUICK"]
