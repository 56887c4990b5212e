"""Datasets in the standard layout, decoded once into memory, augmented on the training device.

Layout: DIR/{train,val,test}/{game,movie}/*.png + DIR/manifest.json. Paired data sets (the
synthetic oracle) also name, in the manifest's "oracle" entry, folders of inputs and true
renders that show the same scenes under the same file names.

The data type that crosses into the networks: float N×3×H×W, RGB, in [-1, 1].
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from livestyle.core.checks import FileCheck
from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import MAX_SIDE

DOMAINS = ("game", "movie")
# Val pairs scored at display resolution after every epoch (recorded footage): enough to follow
# the trend, few enough to cost seconds on a CPU.
DISPLAY_VAL_PAIRS = 8
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


class DataError(LivestyleError, ValueError):
    """A data set that cannot be used; the message names the path and what to do."""


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_image(path: Path, image_size: int | None) -> np.ndarray:
    """RGB uint8 image_size×image_size; other sizes are squashed as the report does (None: as stored)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None and not path.is_file():
        raise DataError(f"image {path} is missing: the data set lost a file it lists; rebuild the data set "
                        f"(or restore the file)")
    if image is None:
        raise DataError(f"cannot read image {path}: the file is damaged or not an image; "
                        "delete or replace it")
    if image_size is not None and image.shape[:2] != (image_size, image_size):
        image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def training_files(folder: Path, limit: int | None = None, names: list[str] | None = None) -> list[Path]:
    """The image files of one data set folder, sorted by name (or the given names): a missing or
    empty folder is one DataError that says what to do."""
    if not folder.is_dir():
        raise DataError(f"missing folder {folder}: expected images in "
                        "DIR/{train,val,test}/{game,movie}/ (see README, 'Data layout')")
    files = [folder / n for n in names] if names is not None else image_files(folder)
    if not files:
        raise DataError(f"no images in {folder}: put .png/.jpg files there "
                        "or point --data at another data set")
    return files[:limit] if limit is not None else files


def read_folder(folder: Path, image_size: int, limit: int | None = None,
                names: list[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """All images of one folder as a uint8 N×H×W×3 tensor, sorted by name."""
    files = training_files(folder, limit, names)
    images = np.stack([read_image(path, image_size) for path in files])
    return torch.from_numpy(images), [p.name for p in files]


def read_for_crops(folder: Path, image_size: int, limit: int | None = None) -> list[torch.Tensor]:
    """All images of one folder at their stored sizes (uint8 H×W×3 each), for random image_size
    crops; none may be smaller than image_size (a crop is never upscaled)."""
    images = []
    for path in training_files(folder, limit):
        image = read_image(path, None)
        height, width = image.shape[:2]
        if min(height, width) < image_size:
            raise DataError(f"{path} is {width}x{height}, smaller than --image-size {image_size}: crops are "
                            f"never upscaled; use --image-size {max(16, min(height, width) // 8 * 8)} or less, or "
                            f"larger images (python -m training.prepare frames --fit keep)")
        images.append(torch.from_numpy(image))
    return images


def random_crops(images, size: int, generator: torch.Generator) -> torch.Tensor:
    """One size×size crop at a random place in each image (uint8 H×W×3, any sizes): N×size×size×3."""
    crops = []
    for image in images:
        top = int(torch.randint(0, image.shape[0] - size + 1, (), generator=generator))
        left = int(torch.randint(0, image.shape[1] - size + 1, (), generator=generator))
        crops.append(image[top:top + size, left:left + size])
    return torch.stack(crops)


def read_frames(folder: Path, names: list[str] | None = None,
                limit: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Images of a folder at their own size, RGB, sorted by name (or the given names)."""
    files = [folder / name for name in names] if names is not None else image_files(folder)
    files = files[:limit] if limit is not None else files
    if not files:
        raise DataError(f"no images in {folder}: display scores need the paired test frames")
    return [read_image(path, None) for path in files], [p.name for p in files]


MANIFEST_FIX = ("fix or delete it (python -m training.prepare and python -m training.synth write it; "
                "without it a data set is used as unpaired)")


def read_manifest(root: Path) -> dict:
    """The data set's manifest.json, checked: `paired` is true or false, `image_size` a sane side,
    and each paired oracle split names a `game` and a `movie` folder inside the data set."""
    path = root / "manifest.json"
    if not path.is_file():
        return {"paired": False}
    check = FileCheck(path, MANIFEST_FIX, error=DataError)
    manifest = check.mapping(check.load_json())
    paired = check.get(manifest, "paired", bool, required=False, default=False)
    check.get(manifest, "image_size", int, required=False, low=1, high=MAX_SIDE)
    if paired:
        oracle = check.get(manifest, "oracle", dict)
        for split, entry in oracle.items():
            check.mapping(entry, f"field 'oracle.{split}'")
            for domain in DOMAINS:
                check.inside(root, check.get(entry, domain, str, name=f"oracle.{split}.{domain}"),
                             f"oracle.{split}.{domain}")
    return manifest


@dataclass
class PairedOracle:
    """Inputs and the true translations of the same scenes (only synthetic data has them)."""
    inputs: torch.Tensor
    targets: torch.Tensor


@dataclass
class Dataset:
    root: Path
    manifest: dict
    train: dict[str, torch.Tensor]
    val: dict[str, torch.Tensor]
    val_oracle: PairedOracle | None = field(default=None)
    # Recorded footage only: a few val pairs at full size (lists of H×W×3 RGB) for display scores.
    val_display: tuple[list[np.ndarray], list[np.ndarray]] | None = field(default=None)

    @property
    def paired(self) -> bool:
        return self.val_oracle is not None


def check_root(root: Path) -> None:
    if not root.exists():
        raise DataError(f"data set {root} does not exist: pass --data with a folder in the "
                        "standard layout, or leave --data out to use the built-in synthetic set")
    if not root.is_dir():
        raise DataError(f"--data {root} is a file, not a folder")


def load_oracle(root: Path, manifest: dict, split: str, image_size: int,
                limit: int | None = None) -> PairedOracle | None:
    entry = manifest.get("oracle", {}).get(split) if manifest.get("paired") else None
    if not entry:
        return None
    targets, names = read_folder(root / entry["movie"], image_size, limit)
    inputs, _ = read_folder(root / entry["game"], image_size, names=names)
    return PairedOracle(inputs=inputs, targets=targets)


def load_training_data(root: str | Path, image_size: int, limit: int | None = None, crop: bool = False) -> Dataset:
    """Train and val images of both domains; `limit` caps images per domain (val gets limit/8).
    crop: train images stay at their stored size, for random image_size crops (val is squashed
    to image_size either way, so scores compare across runs)."""
    root = Path(root)
    check_root(root)
    manifest = read_manifest(root)
    val_limit = None if limit is None else max(2, limit // 8)
    if crop:
        train = {d: read_for_crops(root / "train" / d, image_size, limit) for d in DOMAINS}  # lists
    else:
        train = {d: read_folder(root / "train" / d, image_size, limit)[0] for d in DOMAINS}
    val = {d: read_folder(root / "val" / d, image_size, val_limit)[0] for d in DOMAINS}
    oracle = load_oracle(root, manifest, "val", image_size, val_limit)
    shown = None
    if oracle is not None and manifest.get("source") == "recorded":
        entry = manifest["oracle"]["val"]
        inputs, names = read_frames(root / entry["game"], limit=DISPLAY_VAL_PAIRS)
        shown = (inputs, read_frames(root / entry["movie"], names)[0])
    return Dataset(root=root, manifest=manifest, train=train, val=val, val_oracle=oracle, val_display=shown)


def to_model_range(images: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 N×H×W×3 -> float N×3×H×W in [-1, 1] (moved first, so the copy is uint8)."""
    images = images.to(device, non_blocking=True) if device is not None else images
    return images.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@torch.no_grad()
def translate(generator: nn.Module, images: torch.Tensor, device: torch.device | str, batch_size: int = 16,
              memory_format: torch.memory_format = torch.contiguous_format,
              autocast=contextlib.nullcontext) -> torch.Tensor:
    """uint8 N×H×W×3 RGB -> uint8 N×H×W×3 through a generator working in [-1, 1], in batches."""
    outputs = []
    for start in range(0, len(images), batch_size):
        x = to_model_range(images[start:start + batch_size], device).contiguous(memory_format=memory_format)
        with autocast():
            outputs.append(to_uint8(generator(x)))
    return torch.cat(outputs)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float N×3×H×W in [-1, 1] -> uint8 N×H×W×3 on the CPU."""
    scaled = images.detach().float().add(1.0).mul(127.5).round().clamp(0, 255)
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).cpu()


class ReportAugmentation(nn.Module):
    """The report's Table 2: each image gets exactly one of none, horizontal flip, vertical
    flip, Gaussian blur (k=3) or colour jitter, each with probability 0.2.

    Works on float N×3×H×W in [-1, 1] on any device.
    """

    def __init__(self):
        super().__init__()
        import kornia.augmentation as K

        self.blur = K.RandomGaussianBlur((3, 3), (0.1, 2.0), p=1.0)
        # The report cites torchvision's ColorJitter without values; these are mild ones.
        self.jitter = K.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05, p=1.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        choice = torch.randint(0, 5, (images.shape[0],), device=images.device)
        out = images.clone()
        operations = (
            lambda x: x.flip(-1),
            lambda x: x.flip(-2),
            lambda x: self.blur(x),
            lambda x: self.jitter(x.add(1).div(2)).mul(2).sub(1),
        )
        for index, operation in enumerate(operations, start=1):
            chosen = choice == index
            if chosen.any():
                out[chosen] = operation(images[chosen]).to(out.dtype)
        return out
