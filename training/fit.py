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
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from livestyle.core.cli import ArgumentParser, configure_logging, interrupted, interruptible
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import EXIT_INTERRUPTED, LivestyleError, first_line
from livestyle.core.files import append_line, describe, write_json
from livestyle.core.sizes import DEFAULT_SIZE
from livestyle.faces.crop import FACE_CROP
from livestyle.model.film import FilmLook
from livestyle.model.generator import Generator, LookPyramid, make_pyramid
from livestyle.model.pyramid import down
from livestyle.model.weights import save_generator
from training import display, metrics
from training.checkpoint import TrainState, check_position, load_checkpoint, save_checkpoint
from training.config import (
    CROP_RENDER_SCALE,
    PRESETS,
    QUICK,
    RECIPES,
    TrainConfig,
    TrainingError,
    add_options,
    explicit_overrides,
    flag_name,
    make_config,
    may_change_on_resume,
    parse_lambdas,
)
from training.config import validate as validate_config
from training.data import (
    Dataset,
    ReportAugmentation,
    load_training_data,
    random_crops,
    read_folder,
    to_model_range,
    translate,
)
from training.discriminator import Discriminator
from training.environment import Environment
from training.estimate import STATISTICS_SIDE, estimate_film, grain_frames, grain_strength
from training.evaluate import evaluate_run
from training.grids import labelled_grid, save_png
from training.losses import IDENTITY_TERMS, StructuralSimilarity, discriminator_loss, generator_adversarial, to_unit
from training.synth import cached_dataset, cached_path


class TrainingDiverged(TrainingError):
    pass


# ----------------------------------------------------------------------------- configuration

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m training.fit", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=sorted(PRESETS), help="faces or frames (Table 1 sizes and epochs)")
    parser.add_argument("--recipe", choices=sorted(RECIPES),
                        help="'report' = the report's exact hyperparameters; 'default' = ours (the default: a film "
                             "look estimated in closed form, issue 25's study); 'look-refined' = that look refined "
                             "adversarially (stage 1); 'pyramid' = issue 16's default (a Laplacian pyramid around "
                             "the GANimorph)")
    parser.add_argument("--quick", action="store_true",
                        help=f"small CPU-sized run of the same training: {QUICK}")
    add_options(parser)
    parser.add_argument("--run-dir", type=Path, help="default: runs/<preset>-<timestamp>/")
    parser.add_argument("--resume", action="store_true",
                        help="continue from RUN_DIR/checkpoints/last.pt (newest run of the preset "
                             "when --run-dir is not given)")
    return parser.parse_args(argv)


# What a film look has no use for: said once, in one line, when given with --architecture look.
NETWORK_ONLY = ("g_features", "upsample", "pyramid_levels", "residual")


def build_config(args: argparse.Namespace) -> TrainConfig:
    overrides = explicit_overrides(args)
    config = make_config(args.preset, args.recipe or "default", args.quick, **overrides)
    ignored = [flag_name(name) for name in NETWORK_ONLY if name in overrides]
    if config.architecture == "look" and ignored:  # (a look+pyramid's network uses them)
        print(f"note: {', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to a film look "
              f"(--architecture look); ignored")
    return config


def resume_config(args: argparse.Namespace, config: TrainConfig, path: Path) -> TrainConfig:
    """The run's own settings; flags that differ from them are refused, except those that may change."""
    differs, applied = [], []
    given = explicit_overrides(args)
    if args.preset != config.preset:
        differs.append(f"preset {args.preset} (the run is {config.preset})")
    if args.recipe is not None and args.recipe != config.recipe:
        differs.append(f"--recipe {args.recipe} (the run has {config.recipe})")
    if args.quick and not config.quick:
        differs.append("--quick (the run is not a --quick run)")
    for name, value in given.items():
        old = getattr(config, name)
        if name == "lambdas":
            value = parse_lambdas(value)
            same = old is not None and all(math.isclose(a, b) for a, b in zip(value, old, strict=False))
        elif name == "data":
            same = old is not None and Path(value).resolve() == Path(old).resolve()
        else:
            same = value == old
        if same:
            continue
        if may_change_on_resume(name):
            setattr(config, name, value)
            applied.append(f"{flag_name(name)} {value} (was {old})")
        else:
            shown = "" if isinstance(value, bool) else f" {value}"
            differs.append(f"{flag_name(name)}{shown} (the run has {old})")
    if differs:
        raise TrainingError(f"--resume {path.parent.parent}: {'; '.join(differs)} — a run continues with its own "
                            f"settings: leave these flags out, or start a new run with another --run-dir")
    # A time limit belongs to one sitting, not to the run.
    config.time_limit_minutes = given.get("time_limit_minutes")
    validate_config(config)
    if applied:
        print(f"resume: applying {', '.join(applied)}")
    return config


# ----------------------------------------------------------------------------- models

def is_look(config: TrainConfig) -> bool:
    """A look run (with or without a network after it): stage 0 first, the latest kept, never the val pick."""
    return config.architecture in ("look", "look+pyramid")


def make_generator(config: TrainConfig) -> nn.Module:
    """The report's GANimorph, a Laplacian pyramid around it (its low-frequency GANimorph residual), or a
    colour look."""
    if config.architecture == "pyramid":
        return make_pyramid(config.g_features, config.upsample, config.pyramid_levels)
    if is_look(config):
        model = (LookPyramid(features=config.g_features, upsample=config.upsample, levels=config.pyramid_levels)
                 if config.architecture == "look+pyramid" else FilmLook())
        film = model.look if isinstance(model, LookPyramid) else model
        if config.preset == "faces":
            # A crop pasted back with a vignette or a bloom of its own would show dark corners and seams:
            # a faces look keeps soft focus, colour and grain only.
            for fixed in (film.vignette, film.bloom_tint, film.bloom_threshold):
                fixed.requires_grad_(False)
        return model
    return Generator(config.g_features, config.upsample, config.residual)


class GeneratorPair(nn.Module):
    """Both generators in one module, so one DDP forward computes every translation of a step."""

    def __init__(self, config: TrainConfig):
        super().__init__()
        self.game2movie = make_generator(config)
        self.movie2game = make_generator(config)

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


class Nets:
    """The four networks, their optimisers, and the DDP wrappers used for the training forward."""

    def __init__(self, config: TrainConfig, env: Environment):
        self.generators = GeneratorPair(config).to(env.device, memory_format=env.memory_format)
        self.discriminators = DiscriminatorPair(config.d_features, config.spectral_norm).to(
            env.device, memory_format=env.memory_format)
        self.pools = {d: ImagePool(config.pool_size) for d in ("game", "movie")}
        # The averaged generators are the ones validated, kept and exported; GANs wander from step
        # to step and the average of where they went is usually the better picture.
        self.ema = None
        if config.ema > 0:
            self.ema = torch.optim.swa_utils.AveragedModel(
                self.generators, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema), use_buffers=True)
        betas = (0.5, 0.999)  # the usual GAN choice; the report does not state its Adam settings
        self.optimizer_g = torch.optim.Adam(self.generators.parameters(), lr=config.lr_g, betas=betas)
        self.optimizer_d = torch.optim.Adam(self.discriminators.parameters(), lr=config.lr_d, betas=betas)
        # Look stage 1: (parameter, its stage-0 value) pairs the generators are pulled toward.
        self.anchor: list[tuple[nn.Parameter, torch.Tensor]] = []
        self.train_generators, self.train_discriminators = self.generators, self.discriminators
        if env.distributed:
            device_ids = [env.device.index] if env.device.type == "cuda" else None
            self.train_generators = nn.parallel.DistributedDataParallel(self.generators, device_ids=device_ids)
            self.train_discriminators = nn.parallel.DistributedDataParallel(self.discriminators, device_ids=device_ids)

    def set_anchor(self, state: dict[str, torch.Tensor]) -> None:
        """Pull the generators' looks toward these values of their parameters (a GeneratorPair state dict);
        a look+pyramid's network is not pulled (it starts as the identity and learns what the look cannot)."""
        self.anchor = [(p, state[name].to(p.device)) for name, p in self.generators.named_parameters()
                       if ".pyramid." not in name]

    def anchor_distance(self) -> torch.Tensor:
        return sum(((p - value) ** 2).sum() for p, value in self.anchor)  # type: ignore[return-value]

    @property
    def shown(self) -> GeneratorPair:
        """The generators a run validates and exports: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.generators


def judged(images: torch.Tensor, halvings: int) -> torch.Tensor:
    """What the discriminators see: the images halved up to `halvings` times with the pyramid's
    Gaussian, never below 16 px a side (their two strided convs need a few pixels to judge)."""
    for _ in range(halvings):
        if min(images.shape[-2:]) < 32:
            break
        images = down(images)
    return images


def learning_rate_factor(schedule: str, epochs: int, epoch: int) -> float:
    """CycleGAN's 'linear' schedule keeps the rate for the first half, then decays it to 0."""
    if schedule == "constant":
        return 1.0
    keep = epochs // 2
    return 1.0 - max(0, epoch + 1 - keep) / (epochs - keep + 1)


def train_step(nets: Nets, game: torch.Tensor, movie: torch.Tensor, config: TrainConfig, env: Environment,
               structural: StructuralSimilarity) -> dict[str, torch.Tensor]:
    """One generator update, then one discriminator update, on a batch of each domain in [-1, 1]."""
    adversarial_weight, cycle_weight, identity_weight = config.lambdas
    identity_term = IDENTITY_TERMS[config.identity]
    for p in nets.discriminators.parameters():
        p.requires_grad_(False)
    with env.autocast():
        out = nets.train_generators(game, movie, identity_term.same_domain)
        # The unwrapped pair: DDP's reducer only expects gradients after its own forward.
        logits_game, logits_movie = nets.discriminators(judged(out["fake_game"], config.d_downsample),
                                                        judged(out["fake_movie"], config.d_downsample))
        adversarial = (generator_adversarial(logits_movie, config.gan_loss)
                       + generator_adversarial(logits_game, config.gan_loss))
        identity = identity_term.loss(game, movie, out)
    # MS-SSIM in fp32 outside autocast: its products of small powers underflow in bf16.
    similarity_game, flat_game = structural(to_unit(game), to_unit(out["cycled_game"]))
    similarity_movie, flat_movie = structural(to_unit(movie), to_unit(out["cycled_movie"]))
    cycle = (1 - similarity_game).mean() + (1 - similarity_movie).mean()
    total = adversarial_weight * adversarial.float() + cycle_weight * cycle + identity_weight * identity.float()
    if nets.anchor and config.look_pull > 0:
        total = total + config.look_pull * nets.anchor_distance()
    nets.optimizer_g.zero_grad(set_to_none=True)
    total.backward()
    nets.optimizer_g.step()
    if nets.ema is not None:
        nets.ema.update_parameters(nets.generators)
    for p in nets.discriminators.parameters():
        p.requires_grad_(True)

    with env.autocast():
        # Real and fake in one forward: DDP wants exactly one forward per backward.
        both_game = torch.cat([game, nets.pools["game"].query(out["fake_game"].detach())])
        both_movie = torch.cat([movie, nets.pools["movie"].query(out["fake_movie"].detach())])
        logits_game, logits_movie = nets.train_discriminators(judged(both_game, config.d_downsample),
                                                              judged(both_movie, config.d_downsample))
        n = game.shape[0]
        d_total = (discriminator_loss(logits_game[:n], logits_game[n:], config.gan_loss)
                   + discriminator_loss(logits_movie[:n], logits_movie[n:], config.gan_loss))
    nets.optimizer_d.zero_grad(set_to_none=True)
    d_total.backward()
    nets.optimizer_d.step()
    return {"g_total": total, "g_adversarial": adversarial, "g_cycle": cycle, "g_identity": identity,
            "cycle_flat_fraction": torch.cat([flat_game, flat_movie]).float().mean(), "d_total": d_total}


# ----------------------------------------------------------------------------- run folder and data

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


def default_data(config: TrainConfig) -> Path:
    """The synthetic data set a run without --data makes once under data/ (and reuses)."""
    return cached_path(config.preset, config.count, config.image_size * (CROP_RENDER_SCALE if config.crop else 1),
                       config.seed)


def declaration(run_dir: Path, config: TrainConfig) -> Declaration:
    """training.fit reads --data and writes its run folder (checkpoints, weights, logs: its own, new or resumed);
    without --data it also makes the default synthetic set under data/ once."""
    outputs = [Output("--run-dir", run_dir, folder=True, owned=True)]
    if not config.data:
        outputs.append(Output("the default data set", default_data(config), folder=True, owned=True))
    return Declaration("training.fit", {"--data": config.data}, tuple(outputs))


def declare(args: argparse.Namespace) -> Declaration:
    return declaration(choose_run_dir(args), build_config(args))


def check_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> None:
    """Before any work: the run folder is apart from the data, new (or the run being resumed), and writable."""
    declaration(run_dir, config).check()
    if not resume and (run_dir / "checkpoints" / "last.pt").exists():
        raise TrainingError(f"{run_dir} already holds a run; continue it with --resume, "
                            "or choose another --run-dir")
    if not resume and run_dir.is_dir() and any(run_dir.iterdir()):
        raise TrainingError(f"--run-dir {run_dir} already exists and is not empty; training writes its "
                            "checkpoints, weights and logs there — choose a new folder")


def resolve_data(config: TrainConfig, env: Environment) -> Path:
    if config.data:
        return Path(config.data)
    # Rank 0 generates; the others wait and then reuse the cache.
    side = config.image_size * (CROP_RENDER_SCALE if config.crop else 1)
    if env.is_main:
        path = cached_dataset(config.preset, config.count, side, config.seed)
    env.barrier()
    if not env.is_main:
        path = cached_dataset(config.preset, config.count, side, config.seed)
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


# ----------------------------------------------------------------------------- validation

def translate_on(generator: nn.Module, images: torch.Tensor, env: Environment) -> torch.Tensor:
    return translate(generator, images, env.device, memory_format=env.memory_format, autocast=env.autocast)


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
        prediction = metrics.uint8_to_unit(translate_on(generators.game2movie, oracle.inputs, env))
        target = metrics.uint8_to_unit(oracle.targets)
        results["val_oracle_ssim"] = metrics.ssim(prediction, target).mean().item()
        results["val_oracle_psnr"] = metrics.psnr(prediction, target).mean().item()
        results["val_oracle_structure"] = metrics.structure(prediction, target).mean().item()
    if dataset.val_display is not None:
        # What the player would see: full-size frames through the live app's default size.
        stylize = display.generator_stylize(generators.game2movie, DEFAULT_SIZE, None, env.device,
                                            run=lambda generator, images, _: translate_on(generator, images, env))
        shown, _ = display.display_scores(stylize, *dataset.val_display, DEFAULT_SIZE, references=False)
        results.update({f"val_display_{k}": v for k, v in shown["model"].items()})
    return results


def sample_grid(generators: GeneratorPair, dataset: Dataset, env: Environment, count: int = 6):
    rows = []
    for source, target, forward, backward in (("game", "movie", generators.game2movie, generators.movie2game),
                                              ("movie", "game", generators.movie2game, generators.game2movie)):
        inputs = dataset.val[source][:count]
        translated = translate_on(forward, inputs, env)
        rows += [(f"{source} (input)", inputs), (f"{source} -> {target}", translated),
                 (f"cycled {source}", translate_on(backward, translated, env))]
    if dataset.val_oracle is not None:
        inputs = dataset.val_oracle.inputs[:count]
        rows += [("oracle: game", inputs), ("game -> movie", translate_on(generators.game2movie, inputs, env)),
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


class Reported(KeyboardInterrupt):
    """A stop whose line has been printed (where the run was saved)."""


class Stopper:
    """Every reason to stop early, in one place: SIGTERM (saved and stopped like Ctrl+C), the time
    limit (validated, resumable), a NaN/inf loss (the last good checkpoint is kept)."""

    def __init__(self, minutes: float | None, env: Environment):
        self.minutes, self.env, self.terminated = minutes, env, False
        self.started = time.monotonic()
        if env.is_main:
            signal.signal(signal.SIGTERM, self.terminate)

    def terminate(self, *_) -> None:
        self.terminated = True

    def out_of_time(self) -> bool:
        return self.minutes is not None and self.env.any(time.monotonic() - self.started >= self.minutes * 60)

    def check_losses(self, reported: dict, epoch: int, step: int, checkpoint: Path) -> None:
        if not all(math.isfinite(v) for v in reported.values()):
            raise TrainingDiverged(
                f"the loss became NaN/inf at epoch {epoch + 1}, step {step + 1} ({reported}); "
                f"the last good checkpoint {checkpoint} is kept. Try lower --lr-g/--lr-d, or leave out --amp")


@dataclass
class Run:
    """What one training run works with, made once by setup_run."""
    config: TrainConfig
    env: Environment
    run_dir: Path
    data_root: Path
    dataset: Dataset
    nets: Nets
    sampler: torch.Generator
    state: TrainState
    structural: StructuralSimilarity
    augment: nn.Module | None
    train_images: dict[str, torch.Tensor]
    steps_per_epoch: int
    writer: SummaryWriter | None = None
    timings: list[float] = field(default_factory=list)

    @property
    def last_checkpoint(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    def save(self, state: TrainState | None = None) -> None:
        if self.env.is_main:
            save_checkpoint(self.last_checkpoint, (state or self.state).to_checkpoint(self.config, self.nets,
                                                                                        self.sampler))


def setup_run(args: argparse.Namespace) -> Run:
    """Settings (new, or the resumed run's), checks, data, networks, restored state, logs."""
    run_dir = choose_run_dir(args)
    checkpoint = None
    if args.resume:
        checkpoint, saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
        config = resume_config(args, saved, run_dir / "checkpoints" / "last.pt")
    else:
        config = build_config(args)
    env = Environment(config)
    if env.is_main:
        check_run_dir(run_dir, config, args.resume)
    torch.manual_seed(config.seed + env.rank)

    data_root = resolve_data(config, env)
    dataset = load_training_data(data_root, config.image_size, config.limit, crop=config.crop)
    length = max(len(images) for images in dataset.train.values())
    steps_per_epoch = length // env.world // config.batch_size
    if steps_per_epoch < 1:
        raise TrainingError(f"--batch-size {config.batch_size} × {env.world} process(es) is more than the "
                            f"{length} training images per domain; lower --batch-size")
    nets = Nets(config, env)
    sampler = torch.Generator().manual_seed(config.seed)
    state = TrainState()
    if checkpoint is not None:
        check_position(checkpoint, run_dir / "checkpoints" / "last.pt",
                       {domain: len(images) for domain, images in dataset.train.items()}, steps_per_epoch)
        state = TrainState.from_checkpoint(checkpoint, nets, sampler, run_dir / "checkpoints" / "last.pt")
        if env.is_main:
            print(f"resuming {run_dir} at epoch {state.epoch + 1}, step {state.step_in_epoch}")
    # Written once the checkpoint has been restored: a refused resume leaves the run as it was.
    if env.is_main:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        config.data = str(data_root)
        write_json(run_dir / "config.json", config.to_dict())
    run = Run(config, env, run_dir, data_root, dataset, nets, sampler, state,
              StructuralSimilarity(config.image_size), ReportAugmentation().to(env.device) if config.augment else None,
              {d: [image.to(env.device) for image in images] if isinstance(images, list) else images.to(env.device)
               for d, images in dataset.train.items()}, steps_per_epoch)
    if env.is_main:
        run.writer = SummaryWriter(str(run_dir / "tensorboard"))
        print_header(run)
    return run


def print_header(run: Run) -> None:
    config, counts = run.config, {d: len(v) for d, v in run.dataset.train.items()}
    shape = f"{config.image_size} px"
    if config.crop:
        sizes = sorted({f"{image.shape[1]}x{image.shape[0]}"
                        for images in run.dataset.train.values() for image in images})
        shape = f"{config.image_size} px crops of {', '.join(sizes[:3])}{' …' if len(sizes) > 3 else ''}"
    effects = "soft focus" if config.preset == "faces" else "soft focus, bloom, vignette"  # faces: no seams
    film = (f"a film look ({effects}, then a colour look: tone curves, colour matrix, split tone; grain for the "
            "display)")
    network = {"pyramid": f"pyramid of {config.pyramid_levels} levels around GANimorph N={config.g_features}",
               "look": film, "look+pyramid": f"{film}, then a pyramid of {config.pyramid_levels} levels around "
                                             f"GANimorph N={config.g_features}"}.get(config.architecture,
                                                                                     f"GANimorph N={config.g_features}")
    print(f"run: {run.run_dir}\ndata: {run.data_root} ({counts['game']} game / {counts['movie']} movie "
          f"training images, {shape}{', paired oracle' if run.dataset.paired else ''})\n"
          f"generator: {network}\n"
          f"recipe: {config.recipe}  λ adv/cyc/id {config.lambdas}  GAN {config.gan_loss}  "
          f"lr G {config.lr_g:g} D {config.lr_d:g} ({config.lr_schedule})  batch {config.batch_size}×{run.env.world}  "
          f"device {run.env.device}{' bf16' if run.env.amp else ''}  epochs {config.epochs}"
          f"{f'  EMA {config.ema:g}' if config.ema else ''}"
          f"{f'  D on images halved up to {config.d_downsample}×' if config.d_downsample else ''}")


def train_one_epoch(run: Run, stopper: Stopper, epoch: int, total_steps: int) -> tuple[dict, int, bool]:
    """Steps from run.state.step_in_epoch to the end of the epoch (or an early stop); the summed
    losses, how many steps ran, and whether the time limit ended it."""
    config, env, state, nets = run.config, run.env, run.state, run.nets
    if state.order is None or state.step_in_epoch == 0:
        state.order = epoch_order(run.dataset, run.sampler)
    factor = learning_rate_factor(config.lr_schedule, config.epochs, epoch)
    for optimizer, rate in ((nets.optimizer_g, config.lr_g), (nets.optimizer_d, config.lr_d)):
        for group in optimizer.param_groups:
            group["lr"] = rate * factor
    shard = {d: idx[env.rank::env.world] for d, idx in state.order.items()}
    sums: dict[str, float] = {}
    counted, batch, last_save = 0, config.batch_size, time.monotonic()
    progress = tqdm(range(state.step_in_epoch, run.steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}",
                    initial=state.step_in_epoch, total=run.steps_per_epoch, disable=not env.is_main,
                    dynamic_ncols=True, leave=True)
    for step in progress:
        started = time.perf_counter()
        picks = slice(step * batch, (step + 1) * batch)
        if config.crop:  # lists of images of any size
            game = random_crops([run.train_images["game"][i] for i in shard["game"][picks].tolist()],
                                config.image_size, run.sampler)
            movie = random_crops([run.train_images["movie"][i] for i in shard["movie"][picks].tolist()],
                                 config.image_size, run.sampler)
        else:
            game = run.train_images["game"][shard["game"][picks].to(env.device)]
            movie = run.train_images["movie"][shard["movie"][picks].to(env.device)]
        game, movie = to_model_range(game), to_model_range(movie)
        if run.augment is not None:
            game, movie = run.augment(game), run.augment(movie)
        game = game.contiguous(memory_format=env.memory_format)
        movie = movie.contiguous(memory_format=env.memory_format)
        losses = train_step(nets, game, movie, config, env, run.structural)
        reported = {k: env.mean(v.float()).item() for k, v in losses.items()}
        stopper.check_losses(reported, epoch, step, run.last_checkpoint)
        state.global_step += 1
        state.step_in_epoch, counted = step + 1, counted + 1
        for k, v in reported.items():
            sums[k] = sums.get(k, 0.0) + v
        progress.set_postfix(G=f"{reported['g_total']:.3f}", D=f"{reported['d_total']:.3f}")
        report_progress(run, progress, reported, time.perf_counter() - started, total_steps)
        if stopper.out_of_time():
            progress.close()
            return sums, counted, True
        due = time.monotonic() - last_save >= config.save_every_minutes * 60
        if (due or stopper.terminated) and state.step_in_epoch < run.steps_per_epoch:
            run.save()
            last_save = time.monotonic()
        if stopper.terminated:
            raise KeyboardInterrupt
    progress.close()
    return sums, counted, False


def report_progress(run: Run, progress, reported: dict, seconds: float, total_steps: int) -> None:
    """The ETA after a few timed steps; the losses to TensorBoard every 25 steps."""
    run.timings.append(seconds)
    if len(run.timings) == 4 and run.env.is_main:
        per_step = sum(run.timings[1:]) / 3  # the first step pays for warm-up
        progress.write(f"ETA: ~{format_duration(per_step * total_steps)} for {total_steps} "
                       f"steps ({per_step:.2f} s/step, measured on the first steps), plus validation")
    if run.writer is not None and run.state.global_step % 25 == 0:
        for k, v in reported.items():
            run.writer.add_scalar(f"train/{k}", v, run.state.global_step)


def end_of_epoch(run: Run, epoch: int, sums: dict, steps: int, partial: bool = False) -> None:
    """Validate, log, keep the best generators (main process only)."""
    results = validate(run.nets.shown, run.dataset, run.structural, run.env)
    record = {"epoch": epoch + 1, "step": run.state.global_step, "time": datetime.now().isoformat(timespec="seconds"),
              **({"partial_epoch": True} if partial else {}),
              **{k: v / max(steps, 1) for k, v in sums.items()}, **results}
    grid = sample_grid(run.nets.shown, run.dataset, run.env)
    save_png(run.run_dir / f"samples_epoch{epoch + 1:03d}.png", grid)
    append_line(run.run_dir / "metrics.jsonl", json.dumps(record))
    for key, value in record.items():
        if isinstance(value, float):
            run.writer.add_scalar(f"{'val' if key.startswith('val_') else 'train'}/{key}", value, run.state.global_step)
    run.writer.add_image("samples", grid, run.state.global_step, dataformats="HWC")
    run.writer.flush()

    # A GAN's adversarial loss says nothing about quality and identity rewards doing nothing:
    # choose by the oracle where there is one, else by how well the cycle reconstructs.
    if run.dataset.paired:
        score, better, score_name = results["val_oracle_ssim"], lambda new, old: new > old, "val oracle SSIM"
    else:
        score, better, score_name = results["val_cycle"], lambda new, old: new < old, "val cycle loss"
    summary = "  ".join(f"{k} {v:.4f}" for k, v in results.items())
    best = run.state.best
    # A look's stages are chosen by the study, never by the val pairs: the run keeps its latest.
    improved = best is None or better(score, best["score"]) or is_look(run.config)
    if is_look(run.config):
        score_name = "the latest epoch (look runs never choose by val pairs)"
    tqdm.write(f"epoch {epoch + 1}: {summary}{'  (best so far)' if improved else ''}")
    if improved:
        run.state.best = {"score": score, "epoch": epoch + 1, "metric": score_name}
        save_checkpoint(run.run_dir / "checkpoints" / "best.pt",
                        {"config": run.config.to_dict(), "epoch": epoch + 1, "best": run.state.best,
                         "generators": run.nets.shown.state_dict()})
        export_generators(run.run_dir, run.nets.shown, run.config, run.state.best)


def look_stage0(run: Run) -> None:
    """Stage 0 of a look run: both directions estimated in closed form (training.estimate), set in the
    generators, validated, exported and kept in checkpoints/stage0.pt — the anchor stage 1 is pulled toward."""
    started = time.perf_counter()
    # Every training frame of each domain, not only --limit of them: the statistics are cheap at this size.
    images = {d: read_folder(run.data_root / "train" / d, STATISTICS_SIDE)[0] for d in ("game", "movie")}
    to_movie, movie_numbers = estimate_film(images["game"], images["movie"], to_film=True)
    to_game, game_numbers = estimate_film(images["movie"], images["game"], to_film=False)
    if run.config.preset == "faces":  # no vignette on a face crop (see make_generator)
        for look, numbers in ((to_movie, movie_numbers), (to_game, game_numbers)):
            look.set_vignette(0.0)
            numbers.vignette = 0.0
    # Grain: from a few full-size frames (shrunk, grain is gone); drawn for display by game→movie only.
    movie_numbers.grain = grain_strength(*(grain_frames(run.data_root / "train" / d) for d in ("movie", "game")))
    to_movie.grain.fill_(movie_numbers.grain)
    generators = run.nets.generators
    for generator, estimate in ((generators.game2movie, to_movie), (generators.movie2game, to_game)):
        (generator.look if isinstance(generator, LookPyramid) else generator).load_state_dict(estimate.state_dict())
    if run.nets.ema is not None:
        run.nets.ema.module.load_state_dict(generators.state_dict())
    state = {name: value.detach().clone() for name, value in generators.state_dict().items()}
    if run.config.look_stages == "0+1":
        run.nets.set_anchor(state)
    seconds = time.perf_counter() - started
    estimate = {"game2movie": movie_numbers.to_dict(), "movie2game": game_numbers.to_dict()}
    if not run.env.is_main:
        return
    save_checkpoint(run.run_dir / "checkpoints" / "stage0.pt",
                    {"config": run.config.to_dict(), "generators": state, "estimate": estimate})
    results = validate(run.nets.shown, run.dataset, run.structural, run.env)
    record = {"stage": 0, "seconds": round(seconds, 2), "time": datetime.now().isoformat(timespec="seconds"),
              **estimate, **results}
    append_line(run.run_dir / "metrics.jsonl", json.dumps(record))
    save_png(run.run_dir / "samples_stage0.png", sample_grid(run.nets.shown, run.dataset, run.env))
    run.state.best = {"score": results.get("val_oracle_ssim", results["val_cycle"]), "epoch": 0,
                      "metric": "look stage 0 (closed form)"}
    export_generators(run.run_dir, run.nets.shown, run.config, run.state.best)
    summary = "  ".join(f"{k} {v:.4f}" for k, v in results.items())
    print(f"look stage 0 (closed form, {seconds:.1f} s): contrast {movie_numbers.contrast:.2f}, saturation "
          f"{movie_numbers.saturation:.2f}, vignette {movie_numbers.vignette:.2f}, grain {movie_numbers.grain:.3f}, "
          f"black {_rounded(movie_numbers.target_black)}, white {_rounded(movie_numbers.target_white)}\n  {summary}")


def _rounded(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def load_stage0(run: Run) -> dict[str, torch.Tensor]:
    path = run.run_dir / "checkpoints" / "stage0.pt"
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        state = saved["generators"]
        if not isinstance(state, dict) or set(state) != set(run.nets.generators.state_dict()):
            raise KeyError("generators")
    except Exception as error:  # noqa: BLE001 — missing, damaged or foreign: the answer is the same
        raise TrainingError(f"{path} cannot be read ({first_line(error)}): look stage 1 is pulled toward it; "
                            f"start a new run") from None
    return state


def export_generators(run_dir: Path, generators: GeneratorPair, config: TrainConfig, best: dict) -> None:
    # What the runtime needs to use it right: whole frames or face crops (cut by the shared rule), at what size.
    extra = {"run": str(run_dir), "epoch": best["epoch"], "selected_by": best["metric"],
             "score": best["score"], "image_size": config.image_size, "recipe": config.recipe,
             "preset": config.preset, "kind": config.preset,
             **({"crop_rule": FACE_CROP.to_metadata()} if config.preset == "faces" else {})}
    save_generator(generators.game2movie, run_dir / "game2movie.safetensors", "game2movie", extra)
    save_generator(generators.movie2game, run_dir / "movie2game.safetensors", "movie2game", extra)


def train(args: argparse.Namespace) -> tuple[Path, TrainConfig]:
    run = setup_run(args)
    config, env, state = run.config, run.env, run.state
    stopper = Stopper(config.time_limit_minutes, env)
    total_steps = (config.epochs - state.epoch) * run.steps_per_epoch - state.step_in_epoch
    if not args.resume:
        if is_look(config):
            look_stage0(run)
        run.save()  # from the first moment on, a crashed or killed run can be continued with --resume
    elif is_look(config) and config.look_stages == "0+1":
        run.nets.set_anchor(load_stage0(run))
    if is_look(config) and config.look_stages == "0":
        if not args.resume:
            run.save(TrainState(config.epochs, 0, 0, None, state.best))  # nothing left to train
        print(f"look stage 0 only (--look-stages 0): {run.run_dir} holds the closed-form estimate")
        return run.run_dir, config
    epoch = state.epoch
    try:
        for epoch in range(state.epoch, config.epochs):
            state.epoch = epoch
            sums, counted, out_of_time = train_one_epoch(run, stopper, epoch, total_steps)
            finished = state.step_in_epoch == run.steps_per_epoch
            if env.is_main:
                end_of_epoch(run, epoch, sums, counted, partial=not finished)
                run.save(TrainState(epoch + 1, 0, state.global_step, None, state.best) if finished
                         else TrainState(epoch, state.step_in_epoch, state.global_step, state.order, state.best))
            env.barrier()
            if out_of_time:
                if env.is_main:
                    print(f"stopped after the --time-limit-minutes {config.time_limit_minutes:g} at epoch {epoch + 1}, "
                          f"step {state.step_in_epoch}/{run.steps_per_epoch}; continue with --resume")
                break
            state.step_in_epoch = 0
    except KeyboardInterrupt:
        if env.is_main:
            run.save(TrainState(epoch, state.step_in_epoch, state.global_step, state.order, state.best))
            print(f"\ninterrupted: at epoch {epoch + 1}, step {state.step_in_epoch}; saved {run.last_checkpoint}; "
                  f"continue with: python -m training.fit {config.preset} --run-dir {run.run_dir} --resume",
                  file=sys.stderr)
            raise Reported from None
        raise
    finally:
        if run.writer is not None:
            run.writer.close()
    return run.run_dir, config


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already reported in one line
        return int(stop.code or 0)
    configure_logging(args)
    try:
        with interruptible():
            run_dir, config = train(args)
    except TrainingDiverged as error:  # the run failed, not its input
        print(f"error: {error}", file=sys.stderr)
        return 1
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a write no checked path foresaw (TensorBoard's event file, ...)
        print(f"error: {describe(error)}", file=sys.stderr)
        return 1
    except Reported:  # stopped mid-training: its line (what was saved, how to continue) is printed
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # before the first step: the run folder holds no checkpoint, or stage 0's
        return interrupted("before training began; nothing to continue")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(f"\ndone: {run_dir}\n  weights: {run_dir / 'game2movie.safetensors'} (and movie2game)\n"
          f"  samples: {run_dir}/samples_epoch*.png   logs: tensorboard --logdir {run_dir / 'tensorboard'}")
    if config.evaluate:
        try:
            evaluate_run(run_dir)
        except LivestyleError as error:
            print(f"evaluation skipped: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
