"""Generator weights as the runtime sees them: the network, the weights file's sha256 (the key for
engines and the backend cache), its architecture; and the size rules of the network."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .checks import MAX_SIDE, SIZE_MULTIPLE, nearest_side, side_fits, smallest_side
from .errors import LivestyleError
from .files import describe
from .generator import WEIGHTS_FILE, load_generator, size_multiple, trained_on

DEFAULT_SIZE = (640, 360)  # width × height; 16:9, both divisible by 8 (360 = 45 × 8)
TRAIN_FIRST = "train first: python -m training.fit faces --quick"


@dataclass
class Model:
    module: nn.Module  # fp32, CPU, eval mode
    sha256: str  # of the weights file (or of the state dict for an in-memory module)
    path: Path | None = None
    architecture: dict = field(default_factory=dict)
    direction: str = "game2movie"
    size_multiple: int = SIZE_MULTIPLE  # inference sides must be multiples of this (the weights' metadata)
    kind: str = "frames"  # trained on "faces" or "frames" (the weights' metadata)

    @property
    def label(self) -> str:
        return str(self.path) if self.path else f"in-memory {self.architecture.get('class', 'module')}"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def module_fingerprint(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def load_model(source: str | Path | nn.Module | Model) -> Model:
    """Weights file, run folder (its game2movie.safetensors) or an nn.Module (tests, tools)."""
    if isinstance(source, Model):
        return source
    if isinstance(source, nn.Module):
        architecture = source.architecture() if hasattr(source, "architecture") else {"class": type(source).__name__}
        return Model(source.eval(), module_fingerprint(source), None, architecture,
                     size_multiple=getattr(source, "size_multiple", SIZE_MULTIPLE))
    path = Path(source)
    if path.is_dir() and (path / WEIGHTS_FILE).is_file():
        path = path / WEIGHTS_FILE
    if not path.exists():
        raise LivestyleError(f"weights not found: {path} ({TRAIN_FIRST}, or pass runs/<run>/{WEIGHTS_FILE})")
    if path.is_dir():
        raise LivestyleError(f"{path} is a folder without {WEIGHTS_FILE}; pass a run folder or the weights file")
    if path.suffix in (".pt", ".pth", ".ckpt", ".pkl"):
        raise LivestyleError(f"{path} is a pickle checkpoint; the runtime never unpickles files — pass the "
                             f"run's {WEIGHTS_FILE} instead")
    if path.suffix in (".onnx", ".engine"):
        raise LivestyleError(f"{path} is a built engine, not weights; pass the {WEIGHTS_FILE} it was built from "
                             f"(engines in the engines folder are found by their sidecars)")
    module, metadata = load_generator(path)  # WeightsError: one line naming the file and the fix
    if metadata.get("channel_order", "rgb") != "rgb":
        raise LivestyleError(f"{path}: channel order {metadata['channel_order']!r} in its metadata; "
                             f"the runtime only knows 'rgb'")
    try:
        sha256 = sha256_file(path)
    except OSError as error:
        raise LivestyleError(describe(error, path, "cannot read")) from None
    return Model(module, sha256, path, module.architecture(), metadata.get("direction", "game2movie"),
                 size_multiple(path, metadata, module.architecture()), trained_on(path, metadata))


def newest_weights(runs: str | Path = "runs") -> Path:
    runs = Path(runs)
    found = sorted(runs.glob(f"*/{WEIGHTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise LivestyleError(f"no trained weights: nothing matches {runs.resolve()}/*/{WEIGHTS_FILE}; "
                             f"{TRAIN_FIRST} (or pass --weights)")
    return found[-1]


def format_size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def validate_size(size: tuple[int, int], what: str = "size", multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """Inference sizes are width × height, each a multiple of `multiple` (the weights' size_multiple:
    8 for three stride-2 steps, 1 for a pyramid model, which pads), ≥ 16 (the deepest level's
    reflect padding needs 2 pixels) and ≤ MAX_SIDE (a typo must not allocate)."""
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError, OverflowError):
        raise LivestyleError(f"{what} {size!r}: give whole numbers WIDTHxHEIGHT, e.g. 640x360") from None
    if width > MAX_SIDE or height > MAX_SIDE:
        raise LivestyleError(f"{what} {width}x{height}: width and height must be at most {MAX_SIDE} "
                             f"(8K is 7680x4320); e.g. 640x360")
    if not (side_fits(width, multiple) and side_fits(height, multiple)):
        nearest = tuple(nearest_side(v, multiple) for v in (width, height))
        if multiple == 1:
            raise LivestyleError(f"{what} {width}x{height}: width and height must be at least {smallest_side(1)}; "
                                 f"nearest: {format_size(nearest)}")
        why = "the generator halves the image three times" if multiple == SIZE_MULTIPLE else "the model's size_multiple"
        raise LivestyleError(f"{what} {width}x{height}: width and height must be multiples of {multiple} and at least "
                             f"{smallest_side(multiple)} ({why}); nearest: {format_size(nearest)}")
    return width, height


def parse_size(text: str | tuple[int, int], what: str = "size", multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    if isinstance(text, (tuple, list)):
        return validate_size(tuple(text), what, multiple)
    match = re.fullmatch(r"\s*(\d+)\s*[x×X,]\s*(\d+)\s*", str(text))
    if not match:
        raise LivestyleError(f"{what} {text!r}: write WIDTHxHEIGHT, e.g. 640x360")
    if max(len(match[1]), len(match[2])) > 6:  # int() of thousands of digits is itself an error
        raise LivestyleError(f"{what} {str(text).strip()[:40]}: width and height must be at most {MAX_SIDE}; "
                             f"e.g. 640x360")
    return validate_size((int(match[1]), int(match[2])), what, multiple)


def random_frames(count: int, size: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """Model inputs in [-1, 1] (NCHW) for parity checks."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 1, 3, size[1], size[0], generator=generator) * 2 - 1
