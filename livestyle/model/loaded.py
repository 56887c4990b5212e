"""Generator weights as the runtime sees them: the network, the weights file's sha256 (the key for
engines and the backend cache), its architecture; and the size rules of the network."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from livestyle.core.errors import LivestyleError
from livestyle.core.files import describe
from livestyle.core.sizes import SIZE_MULTIPLE
from livestyle.model.weights import WEIGHTS_FILE, load_generator, size_multiple, trained_on

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


