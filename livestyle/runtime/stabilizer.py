"""Temporal stabiliser: less flicker in a stylised stream, from the previous input and output alone.

    stabilize = Stabilizer(strength=0.5)
    for frame in frames:                       # uint8 BGR (or BGRA) source frames
        steady = stabilize(frame, stylizer(frame))

The generator translates each frame alone, so small changes in the input (noise, compression,
lighting) become large changes in the output: flicker. For every new frame the stabiliser computes
optical flow between the *source* frames (DIS, at most `flow_width` pixels wide, scaled up to the
stylised frame's size), warps its previous output onto the current frame, and blends it in with
weight `strength` where the flow is reliable: the forward–backward check passes and the warped
previous source matches the current one within `max_difference` grey levels (this drops
occlusions, scene cuts and flashes). Elsewhere the fresh frame is kept. Because the blended frame
becomes the next "previous", each pixel is an exponential average along its motion path: strength
0.5 averages over about 2 frames of history, 0.8 over 5.

The work splits in two: `motion(previous source, source)` — the flows and the blend weights, which
need only source frames, so a video can compute them for many frames at once on a thread pool —
and `apply(stylised, motion)`, the cheap warp-and-blend that must run in frame order.

`preset` is DIS's: "medium" (default; offline video) follows motion closely enough that repeated
warping stays sharp; "fast" (the live app) takes half the time and blurs moving detail slightly
more over long histories — numbers in the benchmark pages, docs/benchmarks/ (benchmark_video).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livestyle.core.errors import LivestyleError
from livestyle.core.images import resize
from livestyle.runtime.flow import DISFlow, reliable, sample_maps, to_grey, warp

FLOW_WIDTH = 640  # flow is measured at most this wide: DIS cost grows with pixels, its accuracy hardly does
LIVE_PRESET = "fast"  # the live app's DIS preset: half the time of the offline default


def check_strength(value: float, what: str = "--stabilize") -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0 or value != value:
        raise LivestyleError(f"{what} {value:g}: give a strength from 0 (off) to 1 (e.g. 0.5)")
    return value


@dataclass
class Motion:
    """How the previous frame maps onto this one, and how much of it to blend in, per pixel."""

    maps: tuple[np.ndarray, np.ndarray] | None  # cv2.remap maps (None: nothing moved)
    weight: np.ndarray  # float32 H×W in [0, strength]


class Stabilizer:
    """Call with (source frame, stylised frame) in stream order; returns the stabilised frame (uint8 BGR,
    the stylised frame's shape). The returned array is kept as the next frame's history: do not modify it.
    A change of frame size, or reset(), starts afresh."""

    def __init__(self, strength: float = 0.5, preset: str = "medium", max_difference: float = 24.0,
                 flow_width: int = FLOW_WIDTH):
        self.strength = check_strength(strength, "stabilise strength")
        self.max_difference = max_difference
        self.flow_width = flow_width
        self.flow = DISFlow(preset)
        self.reliable_fraction = 0.0  # share of the last frame's pixels that took history
        self.reset()

    def reset(self) -> None:
        self._grey: np.ndarray | None = None
        self._output: np.ndarray | None = None

    def motion(self, previous_grey: np.ndarray | None, grey: np.ndarray) -> Motion | None:
        """Flow from `grey` back to `previous_grey` (source frames as flow.to_grey gives them, at the stylised
        frame's size) and the blend weights (None: no usable history). Depends on source frames only;
        thread-safe."""
        if self.strength == 0 or previous_grey is None or previous_grey.shape != grey.shape:
            return None
        height, width = grey.shape
        if np.array_equal(grey, previous_grey):  # paused game, menu: nothing moved
            return Motion(None, np.full((height, width), self.strength, np.float32))
        scale = min(1.0, self.flow_width / width)
        small = (max(8, round(width * scale)), max(8, round(height * scale)))
        current, before = (grey, previous_grey) if scale == 1.0 else (resize(grey, small), resize(previous_grey, small))
        backward = self.flow(current, before)  # where each current pixel was
        forward = self.flow(before, current)
        trusted = reliable(backward, forward)
        if scale != 1.0:
            backward = resize(backward, (width, height)) * np.float32(1 / scale)
            trusted = cv2.resize(trusted.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        maps = sample_maps(backward)
        trusted &= cv2.absdiff(grey, warp(previous_grey, backward, maps)) <= self.max_difference
        # a soft edge around untrusted areas, so blended and fresh regions meet without a seam
        weight = cv2.blur(trusted.astype(np.float32), (5, 5)) * np.float32(self.strength)
        return Motion(maps, weight)

    def apply(self, styled: np.ndarray, motion: Motion | None) -> np.ndarray:
        """Blend the previous output, moved by `motion`, into `styled`; in frame order."""
        previous = self._output
        if motion is None or previous is None or previous.shape != styled.shape \
                or motion.weight.shape != styled.shape[:2]:
            output = styled.copy()
            self.reliable_fraction = 0.0
        else:
            warped = previous if motion.maps is None else warp(previous, None, motion.maps)
            output = cv2.blendLinear(warped, styled, motion.weight, 1 - motion.weight)  # w·warped + (1 − w)·fresh
            self.reliable_fraction = float(motion.weight.mean()) / self.strength
        self._output = output
        return output

    def __call__(self, source: np.ndarray, styled: np.ndarray) -> np.ndarray:
        grey = to_grey(source, (styled.shape[1], styled.shape[0]))
        motion = self.motion(self._grey, grey)
        self._grey = grey
        return self.apply(styled, motion)
