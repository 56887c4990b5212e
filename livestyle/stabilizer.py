"""Temporal stabiliser: less flicker in a stylised stream, from the previous input and output alone.

    stabilize = Stabilizer(strength=0.5)
    for frame in frames:                       # uint8 BGR (or BGRA) source frames
        steady = stabilize(frame, stylizer(frame))

The generator translates each frame alone, so small changes in the input (noise, compression,
lighting) become large changes in the output: flicker. For every new frame the stabiliser computes
optical flow between the *source* frames (DIS, at the stylised frame's size), warps its previous
output onto the current frame, and blends it in with weight `strength` where the flow is reliable:
the forward–backward check passes and the warped previous source matches the current one within
`max_difference` grey levels (this drops occlusions, scene cuts and flashes). Elsewhere the fresh
frame is kept. Because the blended frame becomes the next "previous", each pixel is an exponential
average along its motion path: strength 0.5 averages over about 2 frames of history, 0.8 over 5.

`preset` is DIS's: "medium" (default; offline video) follows motion closely enough that repeated
warping stays sharp; "fast" (the live app) takes half the time and blurs moving detail slightly
more over long histories — numbers in docs/benchmarks.md (video).
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from .flow import DISFlow, reliable, sample_maps, to_grey, warp


def check_strength(value: float, what: str = "--stabilize") -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0 or value != value:
        from .errors import LivestyleError

        raise LivestyleError(f"{what} {value:g}: give a strength from 0 (off) to 1 (e.g. 0.5)")
    return value


class Stabilizer:
    """Call with (source frame, stylised frame) in stream order; returns the stabilised frame (uint8 BGR,
    the stylised frame's shape). The returned array is kept as the next frame's history: do not modify it.
    A change of frame size, or reset(), starts afresh."""

    def __init__(self, strength: float = 0.5, preset: str = "medium", max_difference: float = 24.0):
        self.strength = check_strength(strength, "stabilise strength")
        self.max_difference = max_difference
        self.flow = DISFlow(preset)
        self.last_ms = 0.0
        self.reliable_fraction = 0.0  # share of the last frame's pixels that took history
        self.reset()

    def reset(self) -> None:
        self._grey: np.ndarray | None = None
        self._output: np.ndarray | None = None

    def __call__(self, source: np.ndarray, styled: np.ndarray) -> np.ndarray:
        began = time.perf_counter()
        height, width = styled.shape[:2]
        grey = to_grey(source, (width, height))
        previous, previous_grey = self._output, self._grey
        if self.strength == 0 or previous is None or previous.shape != styled.shape:
            output = styled
            self.reliable_fraction = 0.0
        else:
            if np.array_equal(grey, previous_grey):  # paused game, menu: nothing moved
                warped, weight = previous, np.full((height, width), self.strength, np.float32)
            else:
                backward = self.flow(grey, previous_grey)  # where each current pixel was
                forward = self.flow(previous_grey, grey)
                maps = sample_maps(backward)
                trusted = reliable(backward, forward, maps)
                trusted &= cv2.absdiff(grey, warp(previous_grey, backward, maps)) <= self.max_difference
                warped = warp(previous, backward, maps)
                # a soft edge around untrusted areas, so blended and fresh regions meet without a seam
                weight = cv2.blur(trusted.astype(np.float32), (5, 5)) * np.float32(self.strength)
            self.reliable_fraction = float(weight.mean() / self.strength)
            output = cv2.blendLinear(warped, styled, weight, 1 - weight)  # per pixel: w·warped + (1 − w)·fresh
        self._grey, self._output = grey, (styled.copy() if output is styled else output)
        self.last_ms = (time.perf_counter() - began) * 1000
        return output
