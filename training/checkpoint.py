"""Training checkpoints: where a run is (`TrainState`) plus the networks', optimisers' and random
generators' states, saved atomically and loaded as tensors and plain containers only
(`weights_only=True`), their layout checked before anything is restored."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import torch

from livestyle.core.checks import FileCheck
from livestyle.core.errors import LivestyleError
from livestyle.core.files import write_bytes
from training.config import TrainConfig, TrainingError, from_file

CHECKPOINT_FIX = "it was not written by python -m training.fit, or is damaged; start a new run (another --run-dir)"
DOMAINS = ("game", "movie")
INDEX_TYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)
FIELDS = {"config": dict, "epoch": int, "step_in_epoch": int, "global_step": int, "generators": dict,
          "discriminators": dict, "optimizer_g": dict, "optimizer_d": dict, "rng": dict,
          "order": (dict, type(None)), "best": (dict, type(None))}


@dataclass
class TrainState:
    """Where a run is. `order` is the epoch's shuffled pairing while an epoch is under way; `best` the
    best epoch so far ({"score", "epoch", "metric"})."""
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    order: dict | None = None
    best: dict | None = None

    def to_checkpoint(self, config: TrainConfig, nets, sampler: torch.Generator) -> dict:
        return {"config": config.to_dict(), "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                "order": self.order, "global_step": self.global_step, "best": self.best,
                "generators": nets.generators.state_dict(), "discriminators": nets.discriminators.state_dict(),
                "optimizer_g": nets.optimizer_g.state_dict(), "optimizer_d": nets.optimizer_d.state_dict(),
                "rng": {"sampler": sampler.get_state(), "torch": torch.get_rng_state()},
                **({"ema": nets.ema.state_dict()} if nets.ema is not None else {})}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, nets, sampler: torch.Generator, path: Path) -> "TrainState":
        """Restore the networks, optimisers and random generators; the position in the run."""
        try:
            nets.generators.load_state_dict(checkpoint["generators"])
            nets.discriminators.load_state_dict(checkpoint["discriminators"])
            nets.optimizer_g.load_state_dict(checkpoint["optimizer_g"])
            nets.optimizer_d.load_state_dict(checkpoint["optimizer_d"])
            if nets.ema is not None:
                nets.ema.load_state_dict(checkpoint["ema"])
            sampler.set_state(checkpoint["rng"]["sampler"])
            torch.set_rng_state(checkpoint["rng"]["torch"])
        except (RuntimeError, KeyError, ValueError, TypeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise TrainingError(f"{path}: does not fit the networks of its own settings ({first[:200]}); "
                                f"{CHECKPOINT_FIX}") from None
        return cls(checkpoint["epoch"], checkpoint["step_in_epoch"], checkpoint["global_step"], checkpoint["order"],
                   checkpoint["best"])


def save_checkpoint(path: Path, state: dict) -> None:
    # Serialised in memory first: torch's zip writer turns a full disk into an unrelated RuntimeError.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        write_bytes(path, buffer.getbuffer())
    except LivestyleError as error:
        previous = "the previous checkpoint is kept; " if path.exists() else ""
        failed = TrainingError(f"{error} ({previous}continue with --resume once it can be written)")
        failed.exit_code = error.exit_code  # a disk that filled up mid-run: the work failed (1), not the input
        raise failed from None


def load_checkpoint(path: Path) -> tuple[dict, TrainConfig]:
    """A checkpoint and the run's settings in it, both checked."""
    if not path.is_file():
        raise TrainingError(f"--resume: no checkpoint at {path}; start the run without --resume")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 — whatever the unpickler meets, the answer is the same
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "weights only" in first.lower() or "weights_only" in first:  # never repeat torch's advice to unpickle
            first = "it holds objects other than tensors and plain containers, which are never unpickled"
        raise TrainingError(f"cannot load checkpoint {path} ({first}); it may be damaged — "
                            "start a new run") from None
    check = FileCheck(path, CHECKPOINT_FIX, error=TrainingError)
    check.mapping(checkpoint, "the checkpoint")
    for key, kinds in FIELDS.items():
        check.get(checkpoint, key, kinds, low=0, high=10**9)
    if checkpoint["best"] is not None:
        best = checkpoint["best"]
        check.get(best, "score", (int, float), name="best.score")
        check.get(best, "epoch", int, low=0, high=10**9, name="best.epoch")
        check.get(best, "metric", str, required=False, name="best.metric")
    if checkpoint["order"] is not None:
        order = checkpoint["order"]
        if set(order) != set(DOMAINS):
            raise check.fail(f"field 'order' should hold the domains {' and '.join(DOMAINS)}, not "
                             f"{', '.join(map(repr, sorted(map(str, order)))) or 'nothing'}")
        for domain in DOMAINS:
            indices = order[domain]
            if not isinstance(indices, torch.Tensor) or indices.dim() != 1 or indices.dtype not in INDEX_TYPES:
                raise check.fail(f"field 'order.{domain}' should be a list of image numbers (a 1-D integer tensor)")
    return checkpoint, from_file(checkpoint["config"], check)


def check_position(checkpoint: dict, path: Path, images: dict[str, int], steps_per_epoch: int) -> None:
    """What only the data can tell, checked before any step: the saved step lies within an epoch of this
    data, and a saved pairing has one entry per pair and numbers only images that exist."""
    check = FileCheck(path, CHECKPOINT_FIX, error=TrainingError)
    if checkpoint["step_in_epoch"] > steps_per_epoch:
        raise check.fail(f"field 'step_in_epoch' is {checkpoint['step_in_epoch']}, past the {steps_per_epoch} "
                         f"steps of an epoch of this data")
    order = checkpoint["order"]
    if order is None:
        return
    pairs = max(images.values())
    for domain in DOMAINS:
        indices = order[domain]
        if len(indices) != pairs:
            raise check.fail(f"field 'order.{domain}' has {len(indices)} entries, not the {pairs} pairs of an "
                             f"epoch of this data")
        if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= images[domain]):
            raise check.fail(f"field 'order.{domain}' numbers images outside the {images[domain]} {domain} "
                             f"training images of this data")
