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
from functools import lru_cache

import numpy as np

from livestyle.core.checks import FileCheck


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
FACES_BATCH = 4            # face crops stylised in one forward pass (engines for faces models are built for it)
FACES_DEFAULT_SIDE = 128   # the training size of faces runs whose weights do not record theirs (training's default)


# ----------------------------------------------------------------------------- pasting back

@lru_cache(maxsize=64)  # pasting runs per face per frame; face sizes repeat
def feather_mask(side: int, feather: int, height: int | None = None) -> np.ndarray:
    """height×side weights in [0, 1] (read-only; square unless `height` is given): 1 inside, falling to
    0 over `feather` px towards every edge (a raised cosine), so a pasted crop blends into the frame
    and never reaches past its box."""
    def ramp(length: int) -> np.ndarray:
        steps = max(0, min(int(feather), length // 2))
        values = np.ones(length, np.float32)
        if steps:
            rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(steps, dtype=np.float32) + 0.5) / steps)
            values[:steps] = rise
            values[length - steps:] = rise[::-1]
        return values

    mask = np.minimum.outer(ramp(side if height is None else height), ramp(side))
    mask.flags.writeable = False
    return mask


def paste(frame: np.ndarray, crop: np.ndarray, box: tuple[int, ...], feather: int) -> None:
    """Blend a stylised crop (uint8, the box's size) into `frame` (H×W×C, uint8) at box = (left, top,
    side) or (left, top, width, height), in place; pixels outside the box are not touched."""
    left, top, width = box[:3]
    height = box[3] if len(box) > 3 else width
    if crop.shape[:2] != (height, width):
        raise ValueError(f"crop is {crop.shape[1]}x{crop.shape[0]}, its box is {width}x{height}")
    region = frame[top:top + height, left:left + width]
    weight = feather_mask(width, feather, None if height == width else height)[..., None]
    region[:] = np.rint(region * (1 - weight) + crop * weight).astype(np.uint8)
