"""A model as the runtime holds it: the network, and what its weights file says (WeightsInfo: the
sha256 that keys engines and the backend cache, architecture, direction, kind, size rule)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import SIZE_MULTIPLE
from livestyle.model.film import FilmLook
from livestyle.model.generator import Generator, LookPyramid
from livestyle.model.look import ColourLook
from livestyle.model.pyramid import PyramidGenerator
from livestyle.model.weights import WEIGHTS_FILE, WeightsInfo, load_weights

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
    info: WeightsInfo | None = None  # what the weights file says (None for an in-memory module)

    @property
    def label(self) -> str:
        return str(self.path) if self.path else f"in-memory {self.architecture.get('class', 'module')}"


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
        if isinstance(source, (Generator, PyramidGenerator, ColourLook, FilmLook, LookPyramid)):
            architecture, multiple = source.architecture(), source.size_multiple
        else:
            architecture, multiple = {"class": type(source).__name__}, SIZE_MULTIPLE
        return Model(source.eval(), module_fingerprint(source), None, architecture, size_multiple=multiple)
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
    module, info = load_weights(path)  # WeightsError: one line naming the file and the fix
    return Model(module, info.sha256, path, info.architecture, info.direction, info.size_multiple, info.kind, info)


def newest_weights(runs: str | Path = "runs") -> Path:
    runs = Path(runs)
    found = sorted(runs.glob(f"*/{WEIGHTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise LivestyleError(f"no trained weights: nothing matches {runs.resolve()}/*/{WEIGHTS_FILE}; "
                             f"{TRAIN_FIRST} (or pass --weights)")
    return found[-1]


