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
from pathlib import Path

import cv2
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


# ----------------------------------------------------------------------------- tracking

def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class FaceTracks:
    """Detected face boxes, kept steady between detections: a detection joins the track it overlaps
    most (IoU ≥ `match`); a track moves only when a detection differs from it by more than
    `deadband` of its side (at least 3 px: detectors jitter by a few pixels on a still face), then
    part of the way (`follow`); a new face shows at once; a face not detected for `hold` seconds is
    dropped."""

    def __init__(self, match: float = 0.3, deadband: float = 0.1, follow: float = 0.6, hold: float = 0.5):
        self.match, self.deadband, self.follow, self.hold = match, deadband, follow, hold
        self.tracks: list[dict] = []  # {"box": [x, y, w, h], "seen": seconds}

    def update(self, detections: list[tuple[float, float, float, float]], now: float) -> list[tuple[int, ...]]:
        """Feed one detector result (boxes in frame pixels) taken at `now` (seconds); the boxes to use."""
        free = list(range(len(self.tracks)))
        for detection in sorted(detections, key=lambda d: -d[2] * d[3]):
            best = max(free, key=lambda i: _overlap(self.tracks[i]["box"], detection), default=None)
            if best is None or _overlap(self.tracks[best]["box"], detection) < self.match:
                self.tracks.append({"box": [float(v) for v in detection], "seen": now})
                continue
            free.remove(best)
            track = self.tracks[best]
            track["seen"] = now
            box = track["box"]
            centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
            target = (detection[0] + detection[2] / 2, detection[1] + detection[3] / 2)
            if max(abs(target[0] - centre[0]), abs(target[1] - centre[1]), abs(detection[2] - box[2]),
                   abs(detection[3] - box[3])) > max(3.0, self.deadband * max(box[2], box[3])):
                track["box"] = [b + self.follow * (d - b) for b, d in zip(box, detection)]
        self.tracks = [t for t in self.tracks if now - t["seen"] <= self.hold]
        return self.boxes()

    def boxes(self) -> list[tuple[int, ...]]:
        return [tuple(int(round(v)) for v in track["box"]) for track in self.tracks]


# ----------------------------------------------------------------------------- detection

ASSETS = Path(__file__).resolve().parent / "assets"


@dataclass(frozen=True)
class BlazeFaceModel:
    """One of MediaPipe's BlazeFace detectors, converted once to ONNX (scripts/convert_blazeface.py)."""
    file: str
    input: int                            # square input side (px)
    layers: tuple[tuple[int, int], ...]   # (grid side, anchors per cell) of each output layer, in order


BLAZEFACE = {
    "short-range": BlazeFaceModel("blazeface-short-range.onnx", 128, ((16, 2), (8, 6))),
    "full-range": BlazeFaceModel("blazeface-full-range.onnx", 192, ((48, 1),)),
    "back": BlazeFaceModel("blazeface-back.onnx", 256, ((16, 2), (8, 6))),
}


def _anchor_centres(model: BlazeFaceModel) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the order the network lists its boxes (row, column, anchor)."""
    centres = []
    for grid, per_cell in model.layers:
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(cells, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


class FaceDetector:
    """Faces in a frame with a BlazeFace network run by OpenCV's DNN module (no extra runtime).

    detect(frame) takes a uint8 H×W×3 BGR (or ×4 BGRA) frame and returns [(x, y, w, h, score)] boxes in
    the frame's pixels. A frame much wider than tall (more than `tile_above`: 16:9) is looked at as
    squares spread along its width (two for 16:9), each shrunk straight to the network's 256 px input:
    letterboxing it whole would make a 40 px face 16 px, below what the network finds. The defaults
    (the `back` model, score ≥ 0.7, tiles) are scripts/benchmark_faces.py's choice (docs/benchmarks.md,
    faces-detector)."""

    def __init__(self, variant: str = "back", min_score: float = 0.7, overlap: float = 0.3, tile_above: float = 1.25):
        if variant not in BLAZEFACE:
            raise ValueError(f"unknown BlazeFace variant {variant!r}; choose from {', '.join(BLAZEFACE)}")
        self.variant, self.model = variant, BLAZEFACE[variant]
        self.min_score, self.overlap, self.tile_above = min_score, overlap, tile_above
        self.net = cv2.dnn.readNetFromONNX(str(ASSETS / self.model.file))
        self.outputs = self.net.getUnconnectedOutLayersNames()
        self.anchors = _anchor_centres(self.model)

    def detect(self, frame: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        height, width = frame.shape[:2]
        short, long = min(width, height), max(width, height)
        count = 1 if long < self.tile_above * short else int(np.ceil(long / short))
        found: list[tuple[float, ...]] = []
        for index in range(count):  # squares spread evenly along the long side (count 1: the whole frame)
            offset = 0 if count == 1 else round(index * (long - short) / (count - 1))
            if count == 1:
                part, dx, dy = frame, 0, 0
            elif width >= height:
                part, dx, dy = frame[:, offset:offset + short], offset, 0
            else:
                part, dx, dy = frame[offset:offset + short], 0, offset
            found += [(x + dx, y + dy, w, h, score) for x, y, w, h, score in self._detect_square(part)]
        if count > 1 and found:
            chosen = cv2.dnn.NMSBoxes([f[:4] for f in found], [f[4] for f in found], self.min_score, self.overlap)
            found = [found[i] for i in np.array(chosen).reshape(-1)]
        return found

    def _detect_square(self, frame: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        height, width = frame.shape[:2]
        side = self.model.input
        scale = side / max(width, height)
        small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
        small = cv2.resize(frame[..., :3], (small_w, small_h), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = (side - small_w) // 2, (side - small_h) // 2
        square = cv2.copyMakeBorder(small, pad_y, side - small_h - pad_y, pad_x, side - small_w - pad_x,
                                    cv2.BORDER_CONSTANT, value=0)
        self.net.setInput(cv2.dnn.blobFromImage(square, 1 / 127.5, mean=(127.5, 127.5, 127.5), swapRB=True))
        first, second = self.net.forward(self.outputs)
        boxes, logits = (first, second) if first.shape[-1] == 16 else (second, first)
        scores = 1 / (1 + np.exp(-np.clip(logits.reshape(-1), -80, 80)))
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        raw = boxes.reshape(-1, 16)[keep, :4] / side
        centres = raw[:, :2] + self.anchors[keep]
        sizes = raw[:, 2:4]
        corners = (centres - sizes / 2) * side - (pad_x, pad_y)   # top-left in the square, minus the letterbox
        found = [(float(x / scale), float(y / scale), float(w * side / scale), float(h * side / scale))
                 for (x, y), (w, h) in zip(corners, sizes)]
        chosen = cv2.dnn.NMSBoxes(found, scores[keep].tolist(), self.min_score, self.overlap)
        return [(*found[i], float(scores[keep][i])) for i in np.array(chosen).reshape(-1)]
