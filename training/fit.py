"""Train the unpaired game↔movie translator: `python -m training.fit faces|frames`.

Two generators (game→movie G, movie→game F) and two discriminators, trained as the report does:
generator loss = λadv·GAN(D(G(x)), real) + λcyc·(1 − MS-SSIM(x, F(G(x)))) + λid·L1(x, G(x)) for
both directions; discriminators use the plain GAN loss. Without --data the preset's synthetic
set (with known true answers) is generated once under data/ and used.

Examples:
  python -m training.fit faces --quick                 # a few minutes on a laptop CPU
  python -m training.fit frames --batch-size 16 --amp  # full preset on a CUDA GPU
  python -m training.fit faces --recipe report         # the report's Table 1 exactly
  python -m training.fit faces --run-dir runs/x --resume
  torchrun --nproc_per_node=2 -m training.fit faces    # DistributedDataParallel
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from livestyle.checks import MAX_FEATURES, MAX_SIDE, ArgumentParser, FileCheck, bounded_int, check_side, finite_float
from livestyle.errors import LivestyleError
from livestyle.files import append_line, check_apart, check_writable, describe, write_bytes, write_json
from livestyle.generator import Generator, save_generator
from training import metrics
from training.data import Dataset, ReportAugmentation, load_training_data, to_model_range, to_uint8
from training.discriminator import Discriminator
from training.grids import labelled_grid, save_png
from training.losses import GAN_LOSSES, StructuralSimilarity, discriminator_loss, generator_adversarial, to_unit

# Table 1 of the report: data per domain, epochs, and its loss weights per preset.
PRESETS = {
    "faces": {"count": 1000, "epochs": 36, "report_lambdas": [0.7, 0.2, 0.1]},
    "frames": {"count": 1500, "epochs": 40, "report_lambdas": [0.5, 0.3, 0.2]},
}
RECIPES = {
    "report": {"lr_g": 1e-3, "lr_d": 1e-4, "gan_loss": "bce"},  # λs per preset, above
    # The recipe study's choice (python -m training.study, docs/benchmarks.md): cycle-dominant
    # LSGAN, resize-convolution decoder, CycleGAN's identity term. It beats the report's recipe in
    # SSIM and PSNR on both synthetic oracles; the report's collapses on frames.
    "default": {"lr_g": 2e-4, "lr_d": 2e-4, "gan_loss": "lsgan", "lambdas": [0.0625, 0.625, 0.3125],
                "upsample": "resize", "identity": "cyclegan"},
}
# A small, honest configuration of the same training that finishes in minutes on a 2-core CPU.
QUICK = {"image_size": 64, "count": 250, "limit": 200, "epochs": 3, "batch_size": 4}
BASE = {"image_size": 128, "limit": None, "batch_size": 1, "upsample": "deconv", "g_features": 64,
        "d_features": 32, "augment": True, "device": "auto", "amp": False, "seed": 0,
        "data": None, "save_every_minutes": 1.0, "evaluate": True,
        "time_limit_minutes": None, "lr_schedule": "constant", "pool_size": 0, "spectral_norm": False,
        "residual": False, "identity": "report"}
OVERRIDABLE = ("data", "epochs", "batch_size", "image_size", "limit", "lr_g", "lr_d", "lambdas",
               "gan_loss", "upsample", "device", "amp", "seed", "augment", "g_features",
               "d_features", "save_every_minutes", "evaluate", "time_limit_minutes", "lr_schedule",
               "pool_size", "spectral_norm", "residual", "identity")


class TrainingError(LivestyleError):
    """A problem the user can fix; main() prints it as one line and exits non-zero."""


class TrainingDiverged(TrainingError):
    pass


# ----------------------------------------------------------------------------- configuration

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m training.fit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=sorted(PRESETS), help="faces or frames (Table 1 sizes and epochs)")
    parser.add_argument("--recipe", choices=sorted(RECIPES),
                        help="'report' = the report's exact hyperparameters; 'default' = ours (the default)")
    parser.add_argument("--quick", action="store_true",
                        help=f"small CPU-sized run of the same training: {QUICK}")
    parser.add_argument("--data", type=Path, help="data set folder (standard layout); default: "
                        "the preset's synthetic set, generated once under data/")
    parser.add_argument("--epochs", type=bounded_int(1, 100_000))
    parser.add_argument("--batch-size", type=bounded_int(1, 65_536), help="per process (default 1, as the report)")
    parser.add_argument("--image-size", type=bounded_int(16, MAX_SIDE), help="square training size, divisible by 8 (default 128)")
    parser.add_argument("--limit", type=bounded_int(1), help="images per domain to train on (default: all)")
    parser.add_argument("--lr-g", type=finite_float(high=1, above=0), help="generator learning rate")
    parser.add_argument("--lr-d", type=finite_float(high=1, above=0), help="discriminator learning rate")
    parser.add_argument("--lambdas", help="adversarial,cycle,identity weights summing to 1, e.g. 0.7,0.2,0.1")
    parser.add_argument("--gan-loss", choices=GAN_LOSSES)
    parser.add_argument("--upsample", choices=("deconv", "resize"),
                        help="decoder upsampling: transposed conv (report) or resize-convolution")
    parser.add_argument("--lr-schedule", choices=("constant", "linear"),
                        help="constant (report), or CycleGAN's: constant for the first half of the "
                             "epochs, then linearly down towards 0")
    parser.add_argument("--identity", choices=("report", "cyclegan"),
                        help="identity loss: report = L1(x, G(x)); cyclegan = L1(y, G(y)) for y "
                             "already in G's target domain")
    parser.add_argument("--residual", action="store_const", const=True,
                        help="generators predict a change to the input, starting at 'do nothing'")
    parser.add_argument("--pool-size", type=bounded_int(0, 100_000),
                        help="discriminators also see up to N past fakes (CycleGAN's history pool; 0 = off)")
    parser.add_argument("--spectral-norm", action="store_const", const=True,
                        help="spectral normalisation on every discriminator conv")
    parser.add_argument("--g-features", type=bounded_int(1, MAX_FEATURES), help="generator width N (default 64)")
    parser.add_argument("--d-features", type=bounded_int(1, MAX_FEATURES), help="discriminator width N (default 32)")
    parser.add_argument("--no-augment", dest="augment", action="store_const", const=False,
                        help="switch off the report's Table 2 augmentation")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--amp", action="store_const", const=True, help="bf16 autocast (CUDA only)")
    parser.add_argument("--seed", type=bounded_int(0, 2**32 - 1))
    parser.add_argument("--run-dir", type=Path, help="default: runs/<preset>-<timestamp>/")
    parser.add_argument("--resume", action="store_true",
                        help="continue from RUN_DIR/checkpoints/last.pt (newest run of the preset "
                             "when --run-dir is not given)")
    parser.add_argument("--save-every-minutes", type=finite_float(low=0),
                        help="also checkpoint within an epoch this often (default 1; 0 = every step)")
    parser.add_argument("--time-limit-minutes", type=finite_float(above=0),
                        help="stop (validated, checkpointed, resumable) after this much training time")
    parser.add_argument("--no-eval", dest="evaluate", action="store_const", const=False,
                        help="skip the test-set evaluation at the end")
    return parser.parse_args(argv)


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


def build_config(args: argparse.Namespace) -> dict:
    preset = PRESETS[args.preset]
    recipe_name = args.recipe or "default"
    recipe = RECIPES[recipe_name]
    config = {"preset": args.preset, "recipe": recipe_name, "quick": args.quick, **BASE,
              "count": preset["count"], "epochs": preset["epochs"],
              "lambdas": recipe.get("lambdas", preset["report_lambdas"]),
              **{k: v for k, v in recipe.items() if k != "lambdas"}}
    if args.quick:
        config.update(QUICK)
    config.update(explicit_overrides(args))
    validate_config(config)
    return config


def explicit_overrides(args: argparse.Namespace) -> dict:
    overrides = {k: getattr(args, k) for k in OVERRIDABLE if getattr(args, k) is not None}
    if "data" in overrides:
        overrides["data"] = str(overrides["data"])
    return overrides


# What a run's settings may hold, checked when they are read back from a checkpoint or config.json:
# key -> (types, low, high, choices).
NUMBER = (int, float)
CONFIG_FIELDS = {
    "preset": (str, None, None, tuple(PRESETS)), "recipe": (str, None, None, tuple(RECIPES)),
    "quick": (bool,), "count": (int, 1, 10**6), "epochs": (int, 1, 100_000), "batch_size": (int, 1, 65_536),
    "image_size": (int, 16, MAX_SIDE), "limit": ((int, type(None)), 1, None), "lr_g": (NUMBER, 0, 1),
    "lr_d": (NUMBER, 0, 1), "lambdas": (list,), "gan_loss": (str, None, None, GAN_LOSSES),
    "upsample": (str, None, None, ("deconv", "resize")), "g_features": (int, 1, MAX_FEATURES),
    "d_features": (int, 1, MAX_FEATURES), "augment": (bool,), "device": (str, None, None, ("auto", "cpu", "cuda")),
    "amp": (bool,), "seed": (int, 0, 2**32 - 1), "data": ((str, type(None)),),
    "save_every_minutes": (NUMBER, 0, None), "evaluate": (bool,),
    "time_limit_minutes": ((int, float, type(None)), 0, None), "lr_schedule": (str, None, None, ("constant", "linear")),
    "pool_size": (int, 0, 100_000), "spectral_norm": (bool,), "residual": (bool,),
    "identity": (str, None, None, ("report", "cyclegan")),
}
# Flags whose value may differ on --resume (they change how long or how often, not what is learnt).
MAY_CHANGE_ON_RESUME = ("epochs", "evaluate", "save_every_minutes", "time_limit_minutes")
FLAG_OF = {"evaluate": "--no-eval", "augment": "--no-augment"}


def flag_name(key: str) -> str:
    return FLAG_OF.get(key, "--" + key.replace("_", "-"))


def check_config_fields(config: dict, check: FileCheck) -> None:
    """Types and ranges of settings read back from a file (a checkpoint, config.json)."""
    for key, (kinds, *rest) in CONFIG_FIELDS.items():
        low, high, choices = (rest + [None, None, None])[:3]
        check.get(config, key, kinds, low=low, high=high, choices=choices, name=f"config.{key}")


def validate_config(config: dict) -> None:
    config["lambdas"] = parse_lambdas(config["lambdas"])
    try:
        check_side(config["image_size"], "--image-size")
    except LivestyleError as error:
        raise TrainingError(f"{error}; the generator halves the size three times") from None
    for key in ("epochs", "batch_size", "g_features", "d_features"):
        if config[key] < 1:
            raise TrainingError(f"--{key.replace('_', '-')} {config[key]}: must be at least 1")
    if config["pool_size"] < 0:
        raise TrainingError(f"--pool-size {config['pool_size']}: must be 0 (off) or more")
    if config["limit"] is not None and config["limit"] < 1:
        raise TrainingError(f"--limit {config['limit']}: must be at least 1 image per domain")
    for key in ("lr_g", "lr_d"):
        if not (math.isfinite(config[key]) and config[key] > 0):
            raise TrainingError(f"--{key.replace('_', '-')} {config[key]}: must be a positive number")


# ----------------------------------------------------------------------------- models

class GeneratorPair(nn.Module):
    """Both generators in one module, so one DDP forward computes every translation of a step."""

    def __init__(self, features: int, upsample: str, residual: bool = False):
        super().__init__()
        self.game2movie = Generator(features, upsample, residual)
        self.movie2game = Generator(features, upsample, residual)

    def forward(self, game: torch.Tensor, movie: torch.Tensor, same_domain: bool = False) -> dict[str, torch.Tensor]:
        fake_movie = self.game2movie(game)
        fake_game = self.movie2game(movie)
        out = {"fake_movie": fake_movie, "cycled_game": self.movie2game(fake_movie),
               "fake_game": fake_game, "cycled_movie": self.game2movie(fake_game)}
        if same_domain:  # CycleGAN's identity inputs: each generator fed its own target domain
            out["same_movie"] = self.game2movie(movie)
            out["same_game"] = self.movie2game(game)
        return out


class DiscriminatorPair(nn.Module):
    def __init__(self, features: int, spectral_norm: bool = False):
        super().__init__()
        self.game = Discriminator(features, spectral_norm)
        self.movie = Discriminator(features, spectral_norm)

    def forward(self, game: torch.Tensor, movie: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.game(game), self.movie(movie)


class Nets:
    """The four networks, their optimisers, and the DDP wrappers used for the training forward."""

    def __init__(self, config: dict, env: "Environment"):
        self.generators = GeneratorPair(config["g_features"], config["upsample"], config["residual"]).to(
            env.device, memory_format=env.memory_format)
        self.discriminators = DiscriminatorPair(config["d_features"], config["spectral_norm"]).to(
            env.device, memory_format=env.memory_format)
        self.pools = {d: ImagePool(config["pool_size"]) for d in ("game", "movie")}
        betas = (0.5, 0.999)  # the usual GAN choice; the report does not state its Adam settings
        self.optimizer_g = torch.optim.Adam(self.generators.parameters(), lr=config["lr_g"], betas=betas)
        self.optimizer_d = torch.optim.Adam(self.discriminators.parameters(), lr=config["lr_d"], betas=betas)
        self.train_generators, self.train_discriminators = self.generators, self.discriminators
        if env.distributed:
            device_ids = [env.device.index] if env.device.type == "cuda" else None
            self.train_generators = nn.parallel.DistributedDataParallel(self.generators, device_ids=device_ids)
            self.train_discriminators = nn.parallel.DistributedDataParallel(self.discriminators, device_ids=device_ids)


class ImagePool:
    """CycleGAN's history of generated images: half the time the discriminator is shown an older
    fake instead of the newest, so it cannot chase only the generator's latest trick."""

    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        chosen = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image)
                chosen.append(image)
            elif torch.rand(()).item() < 0.5:
                slot = int(torch.randint(self.size, ()).item())
                chosen.append(self.images[slot])
                self.images[slot] = image
            else:
                chosen.append(image)
        return torch.stack(chosen)


def learning_rate_factor(config: dict, epoch: int) -> float:
    """CycleGAN's 'linear' schedule keeps the rate for the first half, then decays it to 0."""
    if config["lr_schedule"] == "constant":
        return 1.0
    keep = config["epochs"] // 2
    return 1.0 - max(0, epoch + 1 - keep) / (config["epochs"] - keep + 1)


def train_step(nets: Nets, game: torch.Tensor, movie: torch.Tensor, config: dict, env: "Environment",
               structural: StructuralSimilarity) -> dict[str, torch.Tensor]:
    """One generator update, then one discriminator update, on a batch of each domain in [-1, 1]."""
    adversarial_weight, cycle_weight, identity_weight = config["lambdas"]
    gan_loss = config["gan_loss"]
    for p in nets.discriminators.parameters():
        p.requires_grad_(False)
    with env.autocast():
        out = nets.train_generators(game, movie, config["identity"] == "cyclegan")
        # The unwrapped pair: DDP's reducer only expects gradients after its own forward.
        logits_game, logits_movie = nets.discriminators(out["fake_game"], out["fake_movie"])
        adversarial = generator_adversarial(logits_movie, gan_loss) + generator_adversarial(logits_game, gan_loss)
        if config["identity"] == "cyclegan":
            identity = (movie - out["same_movie"]).abs().mean() + (game - out["same_game"]).abs().mean()
        else:
            identity = (game - out["fake_movie"]).abs().mean() + (movie - out["fake_game"]).abs().mean()
    # MS-SSIM in fp32 outside autocast: its products of small powers underflow in bf16.
    similarity_game, flat_game = structural(to_unit(game), to_unit(out["cycled_game"]))
    similarity_movie, flat_movie = structural(to_unit(movie), to_unit(out["cycled_movie"]))
    cycle = (1 - similarity_game).mean() + (1 - similarity_movie).mean()
    total = adversarial_weight * adversarial.float() + cycle_weight * cycle + identity_weight * identity.float()
    nets.optimizer_g.zero_grad(set_to_none=True)
    total.backward()
    nets.optimizer_g.step()
    for p in nets.discriminators.parameters():
        p.requires_grad_(True)

    with env.autocast():
        # Real and fake in one forward: DDP wants exactly one forward per backward.
        both_game = torch.cat([game, nets.pools["game"].query(out["fake_game"].detach())])
        both_movie = torch.cat([movie, nets.pools["movie"].query(out["fake_movie"].detach())])
        logits_game, logits_movie = nets.train_discriminators(both_game, both_movie)
        n = game.shape[0]
        d_total = (discriminator_loss(logits_game[:n], logits_game[n:], gan_loss)
                   + discriminator_loss(logits_movie[:n], logits_movie[n:], gan_loss))
    nets.optimizer_d.zero_grad(set_to_none=True)
    d_total.backward()
    nets.optimizer_d.step()
    return {"g_total": total, "g_adversarial": adversarial, "g_cycle": cycle, "g_identity": identity,
            "cycle_flat_fraction": torch.cat([flat_game, flat_movie]).float().mean(), "d_total": d_total}


# ----------------------------------------------------------------------------- environment

class Environment:
    """Device, precision and the process's place in a torchrun job."""

    def __init__(self, config: dict):
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        wanted = config["device"]
        if wanted == "cuda" and not torch.cuda.is_available():
            raise TrainingError("--device cuda: no CUDA GPU is visible to this torch "
                                f"({torch.__version__}); use --device cpu or install a CUDA build")
        use_cuda = wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available())
        if use_cuda:
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local_rank)
            self.device = torch.device("cuda", local_rank)
            torch.backends.cudnn.benchmark = True
        else:
            self.device = torch.device("cpu")
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        self.amp = bool(config["amp"]) and use_cuda
        if config["amp"] and not use_cuda and self.is_main:
            print("note: --amp (bf16 autocast) applies on CUDA only; training in fp32 on the CPU")
        self.memory_format = torch.channels_last if use_cuda else torch.contiguous_format

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on one (so that all stop together)."""
        if not self.distributed:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            value = value.detach().clone()
            dist.all_reduce(value)
            value /= self.world
        return value


# ----------------------------------------------------------------------------- run directory

def choose_run_dir(args: argparse.Namespace) -> Path:
    if args.run_dir is not None:
        return args.run_dir
    if args.resume:
        runs = sorted(Path("runs").glob(f"{args.preset}-*/checkpoints/last.pt"), key=os.path.getmtime)
        if not runs:
            raise TrainingError(f"--resume: no checkpoint found under runs/{args.preset}-*/; "
                                "give --run-dir of the run to continue, or start without --resume")
        return runs[-1].parent.parent
    return Path("runs") / f"{args.preset}-{datetime.now():%Y%m%d-%H%M%S}"


def save_checkpoint(path: Path, state: dict) -> None:
    # Serialised in memory first: torch's zip writer turns a full disk into an unrelated RuntimeError.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        write_bytes(path, buffer.getbuffer())
    except LivestyleError as error:
        previous = "the previous checkpoint is kept; " if path.exists() else ""
        raise TrainingError(f"{error} ({previous}continue with --resume once it can be written)") from None


CHECKPOINT_FIX = "it was not written by python -m training.fit, or is damaged; start a new run (another --run-dir)"
CHECKPOINT_FIELDS = {"config": dict, "epoch": int, "step_in_epoch": int, "global_step": int, "generators": dict,
                     "discriminators": dict, "optimizer_g": dict, "optimizer_d": dict, "rng": dict,
                     "order": (dict, type(None)), "best": (dict, type(None))}


def load_checkpoint(path: Path) -> dict:
    """A training checkpoint, unpickled only as tensors and plain containers (weights_only), with its
    layout checked before anything is restored from it."""
    if not path.is_file():
        raise TrainingError(f"--resume: no checkpoint at {path}; start the run without --resume")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 — whatever the unpickler meets, the answer is the same
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrainingError(f"cannot load checkpoint {path} ({first}); it may be damaged — "
                            "start a new run") from None
    check = FileCheck(path, CHECKPOINT_FIX)
    check.mapping(checkpoint, "the checkpoint")
    for key, kinds in CHECKPOINT_FIELDS.items():
        check.get(checkpoint, key, kinds, low=0, high=10**9)
    check_config_fields({**BASE, **checkpoint["config"]}, check)
    return checkpoint


def resume_config(args: argparse.Namespace, checkpoint: dict, path: Path) -> dict:
    """The run's own settings; flags that differ from them are refused, except those that may change."""
    config = {**BASE, **checkpoint["config"]}  # runs from before a setting existed get its default
    differs, applied = [], []
    given = explicit_overrides(args)
    if args.preset != config["preset"]:
        differs.append(f"preset {args.preset} (the run is {config['preset']})")
    if args.recipe is not None and args.recipe != config["recipe"]:
        differs.append(f"--recipe {args.recipe} (the run has {config['recipe']})")
    if args.quick and not config["quick"]:
        differs.append("--quick (the run is not a --quick run)")
    for key, value in given.items():
        old = config.get(key)
        if key == "lambdas":
            value = parse_lambdas(value)
            same = all(math.isclose(a, b) for a, b in zip(value, old))
        elif key == "data":
            same = old is not None and Path(value).resolve() == Path(old).resolve()
        else:
            same = value == old
        if same:
            continue
        if key in MAY_CHANGE_ON_RESUME:
            config[key] = value
            applied.append(f"{flag_name(key)} {value} (was {old})")
        else:
            shown = "" if isinstance(value, bool) else f" {value}"
            differs.append(f"{flag_name(key)}{shown} (the run has {old})")
    if differs:
        raise TrainingError(f"--resume {path.parent.parent}: {'; '.join(differs)} — a run continues with its own "
                            f"settings: leave these flags out, or start a new run with another --run-dir")
    # A time limit belongs to one sitting, not to the run.
    config["time_limit_minutes"] = given.get("time_limit_minutes")
    validate_config(config)
    if applied:
        print(f"resume: applying {', '.join(applied)}")
    return config


def check_run_dir(run_dir: Path, config: dict, resume: bool) -> None:
    """Before any work: the run folder is apart from the data, new (or the run being resumed), and writable."""
    if config["data"]:
        check_apart({"--run-dir": run_dir}, {"--data": config["data"]})
    if not resume and (run_dir / "checkpoints" / "last.pt").exists():
        raise TrainingError(f"{run_dir} already holds a run; continue it with --resume, "
                            "or choose another --run-dir")
    if not resume and run_dir.is_dir() and any(run_dir.iterdir()):
        raise TrainingError(f"--run-dir {run_dir} already exists and is not empty; training writes its "
                            "checkpoints, weights and logs there — choose a new folder")
    check_writable(run_dir, "--run-dir", folder=True)


# ----------------------------------------------------------------------------- data

def resolve_data(config: dict, env: Environment) -> Path:
    if config["data"]:
        return Path(config["data"])
    from training.synth import cached_dataset

    # Rank 0 generates; the others wait and then reuse the cache.
    if env.is_main:
        path = cached_dataset(config["preset"], config["count"], config["image_size"], config["seed"])
    env.barrier()
    if not env.is_main:
        path = cached_dataset(config["preset"], config["count"], config["image_size"], config["seed"])
    return path


def epoch_order(dataset: Dataset, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A shuffled pairing of game and movie images; the smaller domain is cycled."""
    length = max(len(images) for images in dataset.train.values())
    order = {}
    for domain, images in dataset.train.items():
        repeats = math.ceil(length / len(images))
        order[domain] = torch.cat([torch.randperm(len(images), generator=generator)
                                   for _ in range(repeats)])[:length]
    return order


# ----------------------------------------------------------------------------- evaluation pieces

@torch.no_grad()
def translate(generator: nn.Module, images: torch.Tensor, env: Environment, batch_size: int = 16) -> torch.Tensor:
    """uint8 N×H×W×3 -> translated uint8 N×H×W×3."""
    outputs = []
    for start in range(0, len(images), batch_size):
        x = to_model_range(images[start:start + batch_size], env.device).contiguous(memory_format=env.memory_format)
        with env.autocast():
            outputs.append(to_uint8(generator(x)))
    return torch.cat(outputs)


@torch.no_grad()
def validate(generators: GeneratorPair, dataset: Dataset, structural: StructuralSimilarity,
             env: Environment) -> dict:
    results = {}
    cycle, identity = [], []
    for source, forward, backward in (("game", generators.game2movie, generators.movie2game),
                                      ("movie", generators.movie2game, generators.game2movie)):
        images = dataset.val[source]
        for start in range(0, len(images), 16):
            x = to_model_range(images[start:start + 16], env.device).contiguous(memory_format=env.memory_format)
            with env.autocast():
                translated = forward(x)
                cycled = backward(translated)
            cycle.append(1 - structural(to_unit(x), to_unit(cycled))[0])
            identity.append((x - translated.float()).abs().flatten(1).mean(1))
    results["val_cycle"] = torch.cat(cycle).mean().item()
    results["val_identity"] = torch.cat(identity).mean().item()
    if dataset.val_oracle is not None:
        oracle = dataset.val_oracle
        prediction = metrics.uint8_to_unit(translate(generators.game2movie, oracle.inputs, env))
        target = metrics.uint8_to_unit(oracle.targets)
        results["val_oracle_ssim"] = metrics.ssim(prediction, target).mean().item()
        results["val_oracle_psnr"] = metrics.psnr(prediction, target).mean().item()
    return results


def sample_grid(generators: GeneratorPair, dataset: Dataset, env: Environment, count: int = 6):
    rows = []
    for source, target, forward, backward in (("game", "movie", generators.game2movie, generators.movie2game),
                                              ("movie", "game", generators.movie2game, generators.game2movie)):
        inputs = dataset.val[source][:count]
        translated = translate(forward, inputs, env)
        rows += [(f"{source} (input)", inputs), (f"{source} -> {target}", translated),
                 (f"cycled {source}", translate(backward, translated, env))]
    if dataset.val_oracle is not None:
        inputs = dataset.val_oracle.inputs[:count]
        rows += [("oracle: game", inputs), ("game -> movie", translate(generators.game2movie, inputs, env)),
                 ("true movie", dataset.val_oracle.targets[:count])]
    return labelled_grid(rows)


# ----------------------------------------------------------------------------- training

def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def train(args: argparse.Namespace) -> Path:
    run_dir = choose_run_dir(args)
    checkpoint_dir = run_dir / "checkpoints"
    checkpoint = None
    if args.resume:
        checkpoint = load_checkpoint(checkpoint_dir / "last.pt")
        config = resume_config(args, checkpoint, checkpoint_dir / "last.pt")
    else:
        config = build_config(args)
    env = Environment(config)
    if env.is_main:
        check_run_dir(run_dir, config, args.resume)
    torch.manual_seed(config["seed"] + env.rank)

    data_root = resolve_data(config, env)
    dataset = load_training_data(data_root, config["image_size"], config["limit"])

    nets = Nets(config, env)
    generators, discriminators = nets.generators, nets.discriminators
    optimizer_g, optimizer_d = nets.optimizer_g, nets.optimizer_d
    sampler = torch.Generator().manual_seed(config["seed"])
    start_epoch, start_step, order, best, global_step = 0, 0, None, None, 0
    if checkpoint is not None:
        try:
            generators.load_state_dict(checkpoint["generators"])
            discriminators.load_state_dict(checkpoint["discriminators"])
            optimizer_g.load_state_dict(checkpoint["optimizer_g"])
            optimizer_d.load_state_dict(checkpoint["optimizer_d"])
            sampler.set_state(checkpoint["rng"]["sampler"])
            torch.set_rng_state(checkpoint["rng"]["torch"])
        except (RuntimeError, KeyError, ValueError, TypeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise TrainingError(f"{checkpoint_dir / 'last.pt'}: does not fit the networks of its own settings "
                                f"({first[:200]}); {CHECKPOINT_FIX}") from None
        start_epoch, start_step = checkpoint["epoch"], checkpoint["step_in_epoch"]
        order, best, global_step = checkpoint["order"], checkpoint["best"], checkpoint["global_step"]
        if env.is_main:
            print(f"resuming {run_dir} at epoch {start_epoch + 1}, step {start_step}")
    # Written once the checkpoint has been restored: a refused resume leaves the run as it was.
    if env.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint_dir.mkdir(exist_ok=True)
        config["data"] = str(data_root)
        write_json(run_dir / "config.json", config)

    augment = ReportAugmentation().to(env.device) if config["augment"] else None
    structural = StructuralSimilarity(config["image_size"])
    batch = config["batch_size"]
    length = max(len(images) for images in dataset.train.values())
    steps_per_epoch = length // env.world // batch
    if steps_per_epoch < 1:
        raise TrainingError(f"--batch-size {batch} × {env.world} process(es) is more than the "
                            f"{length} training images per domain; lower --batch-size")
    train_images = {d: images.to(env.device) for d, images in dataset.train.items()}

    writer = None
    if env.is_main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tensorboard"))
        counts = {d: len(v) for d, v in dataset.train.items()}
        print(f"run: {run_dir}\ndata: {data_root} ({counts['game']} game / {counts['movie']} movie "
              f"training images, {config['image_size']} px{', paired oracle' if dataset.paired else ''})\n"
              f"recipe: {config['recipe']}  λ adv/cyc/id {config['lambdas']}  GAN {config['gan_loss']}  "
              f"lr G {config['lr_g']:g} D {config['lr_d']:g} ({config['lr_schedule']})  batch {batch}×{env.world}  "
              f"device {env.device}{' bf16' if env.amp else ''}  epochs {config['epochs']}")

    def position_state(epoch: int, step: int, current_order) -> dict:
        return {"config": config, "epoch": epoch, "step_in_epoch": step, "order": current_order,
                "global_step": global_step, "best": best,
                "generators": generators.state_dict(), "discriminators": discriminators.state_dict(),
                "optimizer_g": optimizer_g.state_dict(), "optimizer_d": optimizer_d.state_dict(),
                "rng": {"sampler": sampler.get_state(), "torch": torch.get_rng_state()}}

    total_steps = (config["epochs"] - start_epoch) * steps_per_epoch - start_step
    interrupted = {"flag": False}
    if env.is_main:
        signal.signal(signal.SIGTERM, lambda *_: interrupted.__setitem__("flag", True))
    if checkpoint is None and env.is_main:
        # From the first moment on, a crashed or killed run can be continued with --resume.
        save_checkpoint(checkpoint_dir / "last.pt", position_state(0, 0, None))
    last_save = run_started = time.monotonic()
    time_limit = config.get("time_limit_minutes")
    timings: list[float] = []
    epoch, done, current_order = start_epoch, start_step, order
    try:
        for epoch in range(start_epoch, config["epochs"]):
            if current_order is None or done == 0:
                current_order = epoch_order(dataset, sampler)
            factor = learning_rate_factor(config, epoch)
            for optimizer, key in ((optimizer_g, "lr_g"), (optimizer_d, "lr_d")):
                for group in optimizer.param_groups:
                    group["lr"] = config[key] * factor
            shard = {d: idx[env.rank::env.world] for d, idx in current_order.items()}
            sums: dict[str, float] = {}
            counted, out_of_time = 0, False
            progress = tqdm(range(done, steps_per_epoch), desc=f"epoch {epoch + 1}/{config['epochs']}",
                            initial=done, total=steps_per_epoch, disable=not env.is_main,
                            dynamic_ncols=True, leave=True)
            for step in progress:
                started = time.perf_counter()
                picks = slice(step * batch, (step + 1) * batch)
                game = to_model_range(train_images["game"][shard["game"][picks].to(env.device)])
                movie = to_model_range(train_images["movie"][shard["movie"][picks].to(env.device)])
                if augment is not None:
                    game, movie = augment(game), augment(movie)
                game = game.contiguous(memory_format=env.memory_format)
                movie = movie.contiguous(memory_format=env.memory_format)
                losses = train_step(nets, game, movie, config, env, structural)
                reported = {k: env.mean(v.float()).item() for k, v in losses.items()}
                if not all(math.isfinite(v) for v in reported.values()):
                    raise TrainingDiverged(
                        f"the loss became NaN/inf at epoch {epoch + 1}, step {step + 1} ({reported}); "
                        f"the last good checkpoint {checkpoint_dir / 'last.pt'} is kept. Try lower "
                        "--lr-g/--lr-d, or leave out --amp")
                global_step += 1
                done, counted = step + 1, counted + 1
                for k, v in reported.items():
                    sums[k] = sums.get(k, 0.0) + v
                progress.set_postfix(G=f"{reported['g_total']:.3f}", D=f"{reported['d_total']:.3f}")
                timings.append(time.perf_counter() - started)
                if len(timings) == 4 and env.is_main:
                    per_step = sum(timings[1:]) / 3  # the first step pays for warm-up
                    progress.write(f"ETA: ~{format_duration(per_step * total_steps)} for {total_steps} "
                                   f"steps ({per_step:.2f} s/step, measured on the first steps), "
                                   "plus validation")
                if writer is not None and global_step % 25 == 0:
                    for k, v in reported.items():
                        writer.add_scalar(f"train/{k}", v, global_step)
                if time_limit is not None:
                    out_of_time = env.any(time.monotonic() - run_started >= time_limit * 60)
                    if out_of_time:
                        break
                due = time.monotonic() - last_save >= config["save_every_minutes"] * 60
                if (due or interrupted["flag"]) and done < steps_per_epoch:
                    if env.is_main:
                        save_checkpoint(checkpoint_dir / "last.pt", position_state(epoch, done, current_order))
                    last_save = time.monotonic()
                if interrupted["flag"]:
                    raise KeyboardInterrupt
            progress.close()
            finished = done == steps_per_epoch
            if env.is_main:
                best = end_of_epoch(epoch, global_step, sums, counted, generators,
                                    dataset, structural, env, writer, run_dir, config, best, partial=not finished)
                save_checkpoint(checkpoint_dir / "last.pt", position_state(epoch + 1, 0, None) if finished
                                else position_state(epoch, done, current_order))
            last_save = time.monotonic()
            env.barrier()
            if out_of_time:
                if env.is_main:
                    print(f"stopped after the --time-limit-minutes {time_limit:g} at epoch {epoch + 1}, "
                          f"step {done}/{steps_per_epoch}; continue with --resume")
                break
            done = 0
    except KeyboardInterrupt:
        if env.is_main:
            save_checkpoint(checkpoint_dir / "last.pt", position_state(epoch, done, current_order))
            print(f"\ninterrupted at epoch {epoch + 1}, step {done}; saved {checkpoint_dir / 'last.pt'}.\n"
                  f"continue with: python -m training.fit {config['preset']} --run-dir {run_dir} --resume",
                  file=sys.stderr)
        raise
    finally:
        if writer is not None:
            writer.close()
    return run_dir


def end_of_epoch(epoch, global_step, sums, steps, generators, dataset, structural, env, writer,
                 run_dir, config, best, partial=False) -> dict | None:
    results = validate(generators, dataset, structural, env)
    record = {"epoch": epoch + 1, "step": global_step, "time": datetime.now().isoformat(timespec="seconds"),
              **({"partial_epoch": True} if partial else {}),
              **{k: v / max(steps, 1) for k, v in sums.items()}, **results}
    grid = sample_grid(generators, dataset, env)
    save_png(run_dir / f"samples_epoch{epoch + 1:03d}.png", grid)
    append_line(run_dir / "metrics.jsonl", json.dumps(record))
    for key, value in record.items():
        if isinstance(value, float):
            writer.add_scalar(f"{'val' if key.startswith('val_') else 'train'}/{key}", value, global_step)
    writer.add_image("samples", grid, global_step, dataformats="HWC")
    writer.flush()

    # A GAN's adversarial loss says nothing about quality and identity rewards doing nothing:
    # choose by the oracle where there is one, else by how well the cycle reconstructs.
    if dataset.paired:
        score, better = results["val_oracle_ssim"], lambda new, old: new > old
        score_name = "val oracle SSIM"
    else:
        score, better = results["val_cycle"], lambda new, old: new < old
        score_name = "val cycle loss"
    summary = "  ".join(f"{k} {v:.4f}" for k, v in results.items())
    improved = best is None or better(score, best["score"])
    tqdm.write(f"epoch {epoch + 1}: {summary}{'  (best so far)' if improved else ''}")
    if improved:
        best = {"score": score, "epoch": epoch + 1, "metric": score_name}
        save_checkpoint(run_dir / "checkpoints" / "best.pt",
                        {"config": config, "epoch": epoch + 1, "best": best,
                         "generators": generators.state_dict()})
        export_generators(run_dir, generators, config, best)
    return best


def export_generators(run_dir: Path, generators: GeneratorPair, config: dict, best: dict) -> None:
    extra = {"run": str(run_dir), "epoch": best["epoch"], "selected_by": best["metric"],
             "score": best["score"], "image_size": config["image_size"], "recipe": config["recipe"],
             "preset": config["preset"]}
    save_generator(generators.game2movie, run_dir / "game2movie.safetensors", "game2movie", extra)
    save_generator(generators.movie2game, run_dir / "movie2game.safetensors", "movie2game", extra)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already reported in one line
        return int(stop.code or 0)
    try:
        run_dir = train(args)
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a write no checked path foresaw (TensorBoard's event file, ...)
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    config = json.loads((run_dir / "config.json").read_text())
    print(f"\ndone: {run_dir}\n  weights: {run_dir / 'game2movie.safetensors'} (and movie2game)\n"
          f"  samples: {run_dir}/samples_epoch*.png   logs: tensorboard --logdir {run_dir / 'tensorboard'}")
    if config.get("evaluate", True):
        from training.evaluate import evaluate_run

        try:
            evaluate_run(run_dir)
        except LivestyleError as error:
            print(f"evaluation skipped: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
