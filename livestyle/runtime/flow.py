"""Optical flow on source frames, and what the stabiliser and the flicker metric build on it.

Convention: `flow(a, b)` gives, for every pixel x of grey image `a`, the displacement d with
a(x) ≈ b(x + d) (OpenCV's calcOpticalFlow*(prev=a, next=b)). So the flow from the *current* frame to
the *previous* one tells where each current pixel was, and `warp(previous_image, that_flow)` brings
the previous image onto the current frame.

Reliability follows Ruder et al. 2016 / Lai et al. 2018: a pixel is trusted when the backward flow
and the forward flow, looked up where the backward flow points, cancel out:
    |B(x) + F(x + B(x))|² < 0.01 (|B(x)|² + |F(x + B(x))|²) + 0.5
and (optionally) it is not on a motion boundary: |∇B|² < 0.01 |B|² + 0.002.

Two flows on purpose: the stabiliser uses DIS (fast, cv2.DISOpticalFlow), the metric uses Farneback,
so the metric does not grade the stabiliser with its own yardstick.
"""
from __future__ import annotations

import functools
import threading

import cv2
import numpy as np

from livestyle.core.images import resize

DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def to_grey(image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 BGR/BGRA/grey → uint8 grey, resized to (width, height) when given."""
    if size is not None and (image.shape[1], image.shape[0]) != tuple(size):
        image = resize(image, size)
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)


class DISFlow:
    """cv2.DISOpticalFlow with a preset; safe to call from several threads (one OpenCV object each)."""

    def __init__(self, preset: str = "fast"):
        if preset not in DIS_PRESETS:
            raise ValueError(f"DIS preset {preset!r}: choose from {', '.join(DIS_PRESETS)}")
        self.preset = preset
        self._local = threading.local()

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = self._local.dis = cv2.DISOpticalFlow.create(DIS_PRESETS[self.preset])
        # None: OpenCV allocates the flow (a preallocated one crashed it once); its stubs want an array
        return dis.calc(a, b, None)  # type: ignore[call-overload]


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # OpenCV's documented example parameters (pyramid 0.5 × 3 levels, window 15, 3 iterations).
    # None: OpenCV allocates the flow, as documented; its stubs want an array
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)  # type: ignore[call-overload]


@functools.lru_cache(maxsize=8)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's own x and y (made once per frame size)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs, ys


def sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps for x + flow(x)."""
    xs, ys = _grid(*flow.shape[:2])
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray | None, maps=None) -> np.ndarray:
    """image sampled at x + flow(x) (bilinear; outside the picture: the nearest edge pixel)."""
    if maps is None:
        assert flow is not None, "warp needs the flow or its sample maps"
        maps = sample_maps(flow)
    map_x, map_y = maps
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable(backward: np.ndarray, forward: np.ndarray, maps=None, motion_boundaries: bool = False) -> np.ndarray:
    """bool H×W: where the backward flow (current → previous) is trusted, by the forward–backward check.

    Pixels whose backward flow leaves the picture are not trusted (nothing to warp from)."""
    map_x, map_y = maps = maps if maps is not None else sample_maps(backward)
    forward_there = warp(forward, None, maps)
    bx, by = cv2.split(backward)  # per-channel planes: numpy reductions over a last axis of 2 are slow
    fx, fy = cv2.split(forward_there)
    backward_length = bx * bx + by * by
    scale = backward_length + fx * fx + fy * fy
    sx, sy = bx + fx, by + fy
    mismatch = sx * sx + sy * sy
    trusted = mismatch < 0.01 * scale + 0.5
    height, width = backward.shape[:2]
    trusted &= (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    if motion_boundaries:
        gradient = sum(cv2.Sobel(plane, cv2.CV_32F, dx, dy, ksize=1, scale=0.5) ** 2
                       for plane in (bx, by) for dx, dy in ((1, 0), (0, 1)))
        trusted &= gradient < 0.01 * backward_length + 0.002
    return trusted
