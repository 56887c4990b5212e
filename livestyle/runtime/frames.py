"""Frames in and out of one backend: what the Stylizer runs for every frame, and what `auto` times.

A uint8 BGR(A) frame of any size is resized once to the inference size (livestyle.core.images.resize),
then, with torch ops on the backend's device into buffers allocated once: channels BGR(A) → RGB,
uint8 → [-1, 1], NCHW, into the backend's input. The output goes back the same way to uint8 BGR
(rounded, clamped) at the inference size. On CUDA the copies go through pinned memory on the
backend's stream.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch

from livestyle.core.errors import LivestyleError
from livestyle.core.images import resize
from livestyle.runtime.backends.base import Backend


def check_frame(frame) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise LivestyleError(f"frame must be a numpy array (uint8 H×W×3 BGR or H×W×4 BGRA), got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise LivestyleError(f"frame dtype is {frame.dtype}; expected uint8 (0–255) BGR or BGRA")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        raise LivestyleError(f"frame {frame.shape} is greyscale; convert it with "
                             f"cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)")
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise LivestyleError(f"frame shape {frame.shape}: expected H×W×3 (BGR) or H×W×4 (BGRA)")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise LivestyleError(f"frame shape {frame.shape} is empty")
    channels = frame.shape[2]
    if frame.strides[2] != 1 or frame.strides[1] != channels or frame.strides[0] < channels * frame.shape[1]:
        frame = np.ascontiguousarray(frame)  # flipped or channel-sliced views: one copy
    return frame


class FrameConverter:
    """frame → backend → frame at the backend's size, through buffers allocated once.

    `converter(frame)` returns a view of the result buffer: the next call overwrites it."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.size = backend.size
        width, height = backend.size
        device = backend.device
        self.cuda = device.type == "cuda"
        self.stream = backend.stream or (torch.cuda.Stream(device) if self.cuda else None)
        self._staging: dict[int, np.ndarray] = {}  # channels → H×W×C uint8 host buffer (pinned on CUDA)
        self._device_frames: dict[int, torch.Tensor] = {}  # channels → the same on the GPU
        self._scaled = torch.empty(3, height, width, device=device)  # float32 output × 127.5 + 128
        self._result = torch.empty(height, width, 3, dtype=torch.uint8, device=device)
        if self.cuda:
            self._host_result = torch.empty(height, width, 3, dtype=torch.uint8).pin_memory()
        else:
            self._host_result = self._result

    def stream_context(self):
        return torch.cuda.stream(self.stream) if self.cuda else contextlib.nullcontext()

    def _staging_for(self, channels: int) -> np.ndarray:
        if channels not in self._staging:
            width, height = self.size
            buffer = torch.empty(height, width, channels, dtype=torch.uint8)
            if self.cuda:
                buffer = buffer.pin_memory()
                self._device_frames[channels] = torch.empty_like(buffer, device=self.backend.device)
            self._staging[channels] = buffer.numpy()
        return self._staging[channels]

    def load(self, frame: np.ndarray, slot: int = 0) -> None:
        """Resize (once), BGR(A) → RGB, uint8 → [-1, 1], into the backend's input buffer (image `slot`
        of its batch)."""
        width, height = self.size
        channels = frame.shape[2]
        staging = self._staging_for(channels)
        if frame.shape[:2] != (height, width):
            source = resize(frame, (width, height), dst=staging)
        elif self.cuda or not frame.flags.writeable:
            np.copyto(staging, frame)
            source = staging
        else:
            source = frame  # CPU, right size: read in place
        pixels = torch.from_numpy(source)
        if self.cuda:
            pixels = self._device_frames[channels].copy_(pixels, non_blocking=True)
        planes = pixels.permute(2, 0, 1)  # C×H×W view: B, G, R(, A)
        target = self.backend.input[slot]
        target[0].copy_(planes[2])
        target[1].copy_(planes[1])
        target[2].copy_(planes[0])
        target.mul_(2 / 255).sub_(1)

    def store(self, output: torch.Tensor, slot: int = 0) -> np.ndarray:
        """RGB [-1, 1] NCHW (image `slot` of the batch) → uint8 BGR H×W×3 (round half up, clamped) in the
        result buffer."""
        torch.mul(output[slot], 127.5, out=self._scaled)
        self._scaled.add_(128.0).clamp_(0.0, 255.0)  # (y + 1) · 127.5 + 0.5, truncated below
        planes = self._result.permute(2, 0, 1)
        planes[0].copy_(self._scaled[2])
        planes[1].copy_(self._scaled[1])
        planes[2].copy_(self._scaled[0])
        if self.stream is not None:  # on the GPU (self.cuda)
            self._host_result.copy_(self._result, non_blocking=True)
            self.stream.synchronize()
        return self._host_result.numpy()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """A checked frame (check_frame) → the stylised frame at the backend's size (the result buffer)."""
        with torch.no_grad(), self.stream_context():
            self.load(frame)
            return self.store(self.backend.forward())

    def batch(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Up to the backend's batch of checked frames → their stylised frames (new arrays), in one
        forward pass; slots left over keep what they last held (the pass costs the same)."""
        if not 0 < len(frames) <= self.backend.batch:
            raise LivestyleError(f"{len(frames)} frames for a backend built for batches of {self.backend.batch}")
        with torch.no_grad(), self.stream_context():
            for slot, frame in enumerate(frames):
                self.load(frame, slot)
            output = self.backend.forward()
            return [self.store(output, slot).copy() for slot in range(len(frames))]

    def run_model(self) -> torch.Tensor:
        """The network alone on the current input buffer, finished (for benchmarks)."""
        with torch.no_grad(), self.stream_context():
            output = self.backend.forward()
        if self.stream is not None:
            self.stream.synchronize()
        return output


def random_frames(count: int, size: tuple[int, int], batch: int = 1, seed: int = 0) -> Iterator[torch.Tensor]:
    """`count` model inputs in [-1, 1] (batch×3×H×W each) for parity checks, made one at a time: all at once,
    1000 inputs at 1280×720 would take 11 GB (and a Ctrl+C would wait for them)."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        yield torch.rand(batch, 3, size[1], size[0], generator=generator) * 2 - 1
