"""Resizing frames: one rule for the whole runtime, so the live app, the stabiliser, the video command
and its metric all see the same pixels. INTER_AREA when shrinking (it averages, so no aliasing
shimmer on fine game textures), INTER_LINEAR when enlarging (INTER_AREA gains nothing there)."""
from __future__ import annotations

import cv2
import numpy as np


def resize(image: np.ndarray, size: tuple[int, int], dst: np.ndarray | None = None) -> np.ndarray:
    """Any OpenCV image (grey, BGR, BGRA, flow) at (width, height); into `dst` when given."""
    shrink = image.shape[0] * image.shape[1] > size[0] * size[1]
    return cv2.resize(image, tuple(size), dst=dst, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_bgr(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """BGRA or BGR frame → BGR at (width, height)."""
    if frame.shape[1] != size[0] or frame.shape[0] != size[1]:
        frame = resize(frame, size)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(frame)
