"""The face detector: BlazeFace (MediaPipe's back model, converted once to ONNX) run by OpenCV's DNN module."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livestyle.core import ASSETS
from livestyle.core.assets import bundled, expected_sums
from livestyle.core.errors import LivestyleError, first_line


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
    (the `back` model, score ≥ 0.7, tiles) are scripts/benchmark_faces.py's choice (docs/benchmarks/faces.md,
    section faces-detector)."""

    def __init__(self, variant: str = "back", min_score: float = 0.7, overlap: float = 0.3, tile_above: float = 1.25):
        if variant not in BLAZEFACE:
            raise ValueError(f"unknown BlazeFace variant {variant!r}; choose from {', '.join(BLAZEFACE)}")
        self.variant, self.model = variant, BLAZEFACE[variant]
        self.min_score, self.overlap, self.tile_above = min_score, overlap, tile_above
        shipped = self.model.file in expected_sums()  # the others exist only where convert_blazeface.py made them
        path = bundled(self.model.file, "face detector") if shipped else ASSETS / self.model.file
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as error:  # the file is ours (checked above), so this OpenCV cannot run it
            raise LivestyleError(f"OpenCV {cv2.__version__} cannot read the face detector {path} "
                                 f"({first_line(error)[:160]}); install opencv-python-headless>=4.8,<5") from None
        self.outputs = self.net.getUnconnectedOutLayersNames()
        self.anchors = _anchor_centres(self.model)

    def detect(self, frame: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        height, width = frame.shape[:2]
        short, long = min(width, height), max(width, height)
        count = 1 if long < self.tile_above * short else int(np.ceil(long / short))
        found: list[tuple[float, float, float, float, float]] = []
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
                 for (x, y), (w, h) in zip(corners, sizes, strict=False)]
        chosen = cv2.dnn.NMSBoxes(found, scores[keep].tolist(), self.min_score, self.overlap)
        return [(*found[i], float(scores[keep][i])) for i in np.array(chosen).reshape(-1)]
