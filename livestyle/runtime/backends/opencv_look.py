"""opencv: a film look (livestyle.model.film / look) run with OpenCV's table lookups and filters, no network.

A look is a few dozen numbers, so it needs no tensor library: the tone curves become one 256-entry table
per channel (cv2.LUT, exact for the 8-bit frames it is given), the colour matrix and the split tone's tints
become cv2.transform calls, and the spatial effects use the model layer's reduced-size ops, written here
with OpenCV the same way: integer-factor average pooling (a partial last block averages the pixels it
has), the fixed 5-tap binomial with replicated edges (cv2.sepFilter2D) and bilinear enlargement with
half-pixel centres (cv2.resize INTER_LINEAR, what torch calls align_corners False). Effects too small
to move any pixel by a level (|number| < UNSEEN) are skipped. Parity with torch-cpu is tested
(tests/test_opencv_backend.py).

Other models (the GANimorph networks) are not looks: this backend refuses them, and `auto` passes it by.
"""
from __future__ import annotations

import os

import cv2
import numpy as np
import torch
from torch import nn

from livestyle.model.film import BINOMIAL, FilmLook, radius_squared, reduction
from livestyle.model.look import LUMA, ColourLook
from livestyle.runtime.backends.base import Backend

_KERNEL = np.array(BINOMIAL, np.float32) / 16.0
UNSEEN = 1.0 / 256  # an effect of at most this strength moves no pixel by more than one level
_LUMA = np.array([LUMA], np.float32)  # 1×3 for cv2.transform: RGB → luma


def is_look(module: nn.Module) -> bool:
    return isinstance(module, (FilmLook, ColourLook))


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """H×W(×C) float32 averaged over factor×factor blocks (partial last blocks: the pixels they have)."""
    if factor == 1:
        return image
    height, width = image.shape[:2]
    if height % factor == 0 and width % factor == 0:
        return cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    rows, columns = -(-height // factor), -(-width // factor)
    padded = np.zeros((rows * factor, columns * factor, *image.shape[2:]), np.float32)
    padded[:height, :width] = image
    counts = np.zeros((rows * factor, columns * factor), np.float32)
    counts[:height, :width] = 1.0
    sums = padded.reshape(rows, factor, columns, factor, *image.shape[2:]).sum(axis=(1, 3))
    count = counts.reshape(rows, factor, columns, factor).sum(axis=(1, 3))
    return sums / (count[..., None] if image.ndim == 3 else count)


def binomial(image: np.ndarray) -> np.ndarray:
    return cv2.sepFilter2D(image, -1, _KERNEL, _KERNEL, borderType=cv2.BORDER_REPLICATE)


def enlarge(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


class LookTables:
    """A look's numbers as OpenCV wants them, read once from the module."""

    def __init__(self, module: nn.Module, size: tuple[int, int]):
        film = module if isinstance(module, FilmLook) else None
        colour: ColourLook = module.colour if isinstance(module, FilmLook) else module  # type: ignore[assignment]
        width, height = size
        with torch.no_grad():
            levels = (torch.arange(256, dtype=torch.float32) / 255.0).view(1, 1, 1, 256).expand(1, 3, 1, 256)
            self.curves = colour.tone(levels)[0, :, 0].T.contiguous().numpy().reshape(1, 256, 3).astype(np.float32)
            # Each level's step to the next: frames the spatial effects moved off the 8-bit levels are
            # interpolated between two entries, as the curve itself would (it is piecewise linear).
            self.steps = np.concatenate([np.diff(self.curves, axis=1), np.zeros((1, 1, 3), np.float32)], axis=1)
            self.matrix = np.concatenate([colour.matrix().numpy(), colour.offset().numpy()[:, None]], 1)
            shadow, highlight = colour.tints()
            self.tints = np.stack([shadow.numpy(), highlight.numpy()], 1).astype(np.float32)  # 3×2
            self.soft = float(film.soft_amount()) if film is not None else 0.0
            self.tint = film.tint().numpy().astype(np.float32) if film is not None else np.zeros(3, np.float32)
            self.threshold = float(film.threshold()) if film is not None else 0.75
            vignette = float(film.vignette_strength()) if film is not None else 0.0
        self.factor = reduction(height)
        self.vignette = None
        if abs(vignette) >= UNSEEN:
            r2 = radius_squared(height, width, torch.zeros(1))[0, 0].numpy()
            self.vignette = np.ascontiguousarray((1.0 - vignette * r2).astype(np.float32))
        self.spatial = abs(self.soft) >= UNSEEN or float(np.abs(self.tint).max()) >= UNSEEN or self.vignette is not None


class OpenCVBackend(Backend):
    name = "opencv"

    def __init__(self, module: nn.Module, size: tuple[int, int], threads: int | None = None, batch: int = 1):
        self.threads = threads or os.cpu_count() or 1
        cv2.setNumThreads(self.threads)
        self.tables = LookTables(module, size)
        self.size = size
        self.input = torch.zeros(batch, 3, size[1], size[0])
        self.detail = f"table lookups and OpenCV filters, {self.threads} thread{'s' if self.threads > 1 else ''}"

    def forward(self) -> torch.Tensor:
        out = torch.empty_like(self.input)
        for index in range(self.input.shape[0]):
            signed = cv2.merge([self.input[index, channel].numpy() for channel in range(3)])  # H×W×3 in [-1, 1]
            if self.tables.spatial:
                unit = self.spatial(signed * 0.5 + 0.5)
                graded = self.grade(self.toned_between_levels(unit))
            else:  # 8-bit frames, untouched: the tables are exact (and the [-1, 1] → level step is one pass)
                graded = self.grade(cv2.LUT(cv2.convertScaleAbs(signed, alpha=127.5, beta=127.5), self.tables.curves))
            for channel, plane in enumerate(cv2.split(graded)):
                out[index, channel] = torch.from_numpy(plane)
        return out.mul_(2).sub_(1)

    def spatial(self, unit: np.ndarray) -> np.ndarray:
        """livestyle.model.film.FilmLook.spatial with OpenCV (zero effects skipped)."""
        tables, (width, height) = self.tables, self.size
        if abs(tables.soft) >= UNSEEN:
            softened = enlarge(binomial(shrink(unit, tables.factor)), width, height)
            unit = unit + tables.soft * (softened - unit)
        if np.abs(tables.tint).max() >= UNSEEN:
            luma = cv2.transform(shrink(unit, 2 * tables.factor), _LUMA)
            bright = np.clip((luma - tables.threshold) / (1.0 - tables.threshold), 0.0, 1.0)
            glow = enlarge(binomial(binomial(bright)), width, height)
            unit = unit + glow[..., None] * tables.tint
        if tables.vignette is not None:
            unit = unit * tables.vignette[..., None]
        return np.clip(unit, 0.0, 1.0)

    def toned_between_levels(self, unit: np.ndarray) -> np.ndarray:
        """The tone curves on values the spatial effects moved off the 8-bit levels: the tables interpolated."""
        scaled = unit * 255.0
        floor = np.floor(scaled)
        levels = floor.astype(np.uint8)
        between = (scaled - floor) * cv2.LUT(levels, self.tables.steps)
        return (cv2.LUT(levels, self.tables.curves) + between).astype(np.float32)

    def grade(self, toned: np.ndarray) -> np.ndarray:
        """The rest of the colour look after the curves: matrix and offset, split tone, clamp."""
        tables = self.tables
        graded: np.ndarray = cv2.transform(toned, tables.matrix).astype(np.float32, copy=False)
        luminance = np.clip(cv2.transform(graded, _LUMA), 0.0, 1.0)
        weights = np.dstack([(1.0 - luminance) ** 2, luminance ** 2])
        graded += cv2.transform(weights, tables.tints).astype(np.float32, copy=False)
        return np.clip(graded, 0.0, 1.0, out=graded)

    def close(self) -> None:
        self.release("tables")
