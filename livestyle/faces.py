"""The face crop rule: one definition for the data sets `training.prepare faces` writes and for the
faces a runtime cuts out of a game picture, so a faces model sees at run time what it learnt from.

A detected face box (x, y, w, h, in source pixels) becomes a square of (1 + 2·margin) times its
longer side, centred on the box and shifted (never shrunk, unless the frame is smaller) to lie inside
the frame: brows to chin plus hair, chin and a little background. Faces smaller than the rule's
minimum (in source pixels, and never under half the model's training size) are left alone: there is
too little in them to stylise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .checks import FileCheck


@dataclass(frozen=True)
class CropRule:
    margin: float = 0.4   # each side of the detected box, as a share of its longer side
    min_face: int = 40    # px in the source
    shape: str = "square"

    def smallest_face(self, image_size: int) -> int:
        """The smallest detected face (px) worth cropping for a model trained at `image_size`."""
        return max(self.min_face, image_size // 2)

    def box(self, x: float, y: float, w: float, h: float, width: int, height: int) -> tuple[int, int, int]:
        """(left, top, side) of the square crop for a face box inside a width×height frame."""
        side = min(int(round(max(w, h) * (1 + 2 * self.margin))), width, height)
        left = int(np.clip(round(x + w / 2 - side / 2), 0, width - side))
        top = int(np.clip(round(y + h / 2 - side / 2), 0, height - side))
        return left, top, side

    def to_metadata(self) -> dict:
        return asdict(self)

    @classmethod
    def from_metadata(cls, value, check: FileCheck) -> "CropRule":
        """The rule a faces model's weights record, each field checked."""
        check.mapping(value, "crop_rule")
        return cls(margin=check.get(value, "margin", (int, float), low=0, high=10, name="crop_rule.margin"),
                   min_face=check.get(value, "min_face", int, low=1, high=100_000, name="crop_rule.min_face"),
                   shape=check.get(value, "shape", str, choices=("square",), name="crop_rule.shape"))


FACE_CROP = CropRule()
