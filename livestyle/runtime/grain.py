"""Film grain for the display (issue 25): drawn on the picture a player sees, never scored.

Grain cannot be predicted frame by frame, so no model output contains it: a film look's weights carry
only its strength (FilmLook's `grain` buffer, estimated by training's stage 0 from flat areas of the
movie footage), and this draws new grain on every picture. Monochrome, slightly clumped like film's
(the model layer's fixed binomial blur once over white noise), stronger in the shadows than in the
highlights (`amount · (1 − 0.5·grey)`, grey as OpenCV's BGR→grey gives it, as film's grain shows).
Precomputed tiles with a random tile and offset per frame keep it to a few milliseconds at 1280×720.

Pictures: uint8 h×w×3 BGR in, a new uint8 h×w×3 BGR out. `amount`: the grain's standard deviation at
black, in [0, 1] units of the picture (0.02 is light grain, 0.05 heavy).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from livestyle.faces.crop import paste
from livestyle.model.film import FilmLook, binomial
from livestyle.model.generator import LookPyramid
from livestyle.model.loaded import Model

TILE = 256  # px a side
TILES = 4
MAX_AMOUNT = 0.25  # grain beyond this is noise, not film; a weights file asking more is clamped


def model_grain(model: Model | None) -> float:
    """The grain a model's weights ask for (0: none)."""
    if model is None or not isinstance(model.module, (FilmLook, LookPyramid)):
        return 0.0
    amount = float(model.module.grain)
    return min(max(amount, 0.0), MAX_AMOUNT) if np.isfinite(amount) else 0.0


def grain_tiles(seed: int = 0) -> np.ndarray:
    """TILES×TILE×TILE float32 clumped white noise of unit standard deviation (wrapping at the edges)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(TILES, 1, TILE, TILE, generator=generator)
    noise = torch.cat([noise[..., -2:, :], noise, noise[..., :2, :]], dim=2)
    noise = torch.cat([noise[..., -2:], noise, noise[..., :2]], dim=3)  # wrap, so tiles repeat seamlessly
    clumped = binomial(noise)[..., 2:-2, 2:-2, ]
    clumped = clumped / clumped.std(dim=(1, 2, 3), keepdim=True)
    return clumped[:, 0].numpy().astype(np.float32)


class FilmGrain:
    """New grain on every call; `on` False passes pictures through (the live app's G key).

    `where()` says, on the thread that made the picture, where on it the grain belongs (None: all of it);
    a caller that draws the grain later, on another thread (the video job), passes that back to __call__."""

    def __init__(self, amount: float, seed: int = 0):
        self.amount = min(max(float(amount), 0.0), MAX_AMOUNT)
        self.tiles = grain_tiles(seed) * (self.amount * 255.0)
        self.random = np.random.default_rng(seed)
        self.on = True
        self._fields: tuple[tuple[int, int], list[np.ndarray]] | None = None
        # Grain's strength at each grey level: full in the shadows, half at white.
        self._strength = (1.0 - 0.5 * np.arange(256) / 255.0).astype(np.float32).reshape(1, 256)  # a cv2.LUT

    def fields(self, height: int, width: int) -> list[np.ndarray]:
        """Each tile repeated over at least (height + TILE) × (width + TILE), so that a frame's grain is a
        slice at a random offset (no copy). Made again only for a larger picture: faces mode's crops change
        size every frame, and slicing a larger field gives them the same grain."""
        covered = self._fields[0] if self._fields is not None else (0, 0)
        if height > covered[0] or width > covered[1]:
            height, width = max(height, covered[0]), max(width, covered[1])
            reps = (-(-(height + TILE) // TILE), -(-(width + TILE) // TILE))
            self._fields = ((height, width), [np.ascontiguousarray(np.tile(tile, reps)[:height + TILE, :width + TILE])
                                              for tile in self.tiles])
        assert self._fields is not None
        return self._fields[1]

    def where(self):
        return None  # the whole picture

    def __call__(self, picture: np.ndarray, where=None) -> np.ndarray:
        if not self.on or self.amount == 0:
            return picture
        height, width = picture.shape[:2]
        field = self.fields(height, width)[int(self.random.integers(TILES))]
        top, left = (int(v) for v in self.random.integers(TILE, size=2))
        grain = cv2.multiply(field[top:top + height, left:left + width],
                             cv2.LUT(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), self._strength))
        return cv2.add(picture, cv2.merge([grain, grain, grain]), dtype=cv2.CV_8U)  # rounded, saturated


class CropGrain(FilmGrain):
    """Faces mode's grain: only inside the pasted face crops (feathered like the paste), so that outside
    them the picture stays as the frames model or the capture made it. `places` reads the face boxes of
    the picture just made: [(left, top, width, height, feather)] at that picture's size."""

    def __init__(self, amount: float, places, seed: int = 0):
        super().__init__(amount, seed)
        self.places = places

    def where(self):
        return self.places()

    def __call__(self, picture: np.ndarray, where=None) -> np.ndarray:
        if not self.on or self.amount == 0:
            return picture
        made = self.places() if where is None else where
        if not made:
            return picture
        places, (width, height) = made
        scale_x, scale_y = picture.shape[1] / width, picture.shape[0] / height  # the video job resizes first
        out = picture.copy()
        for left, top, w, h, feather in places:
            left, top = round(left * scale_x), round(top * scale_y)
            w = min(max(1, round(w * scale_x)), out.shape[1] - left)
            h = min(max(1, round(h * scale_y)), out.shape[0] - top)
            if w < 1 or h < 1:
                continue
            region = out[top:top + h, left:left + w]
            paste(out, super().__call__(np.ascontiguousarray(region)), (left, top, w, h),
                  max(1, round(feather * min(scale_x, scale_y))))
        return out
