"""Stylizer: a game frame in, the film version out.

    stylizer = Stylizer("runs/faces-20261126-101500/game2movie.safetensors")   # backend "auto"
    film = stylizer(frame)            # frame: uint8 H×W×3 BGR (OpenCV, video) or H×W×4 BGRA (screen capture)

Any input size is accepted. The frame is resized once (cv2; INTER_AREA when shrinking, else
INTER_LINEAR) to the inference size — a fixed width × height, each a multiple of 8, default
640×360 or the engine's size — squashing it if the aspect ratio differs, as training does (no
padding: pick an inference size with your screen's aspect ratio). Then, with torch ops on the
backend's device into buffers allocated once: channels BGR(A) → RGB, uint8 → [-1, 1], NCHW. The
output goes back the same way to uint8 BGR (rounded, clamped), at the inference size, or resized
to `output_size` ((width, height), or "input" for each frame's own size).

The returned array is new unless you pass `out=` (an array of the output shape to write into).
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from .artifacts import read_sidecar
from .backends import NAMES, Backend, open_backend
from .errors import LivestyleError
from .machine import Machine, probe
from .model import DEFAULT_SIZE, Model, format_size, load_model, parse_size


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_frame(frame) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise LivestyleError(f"frame must be a numpy array (uint8 H×W×3 BGR or H×W×4 BGRA), got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise LivestyleError(f"frame dtype is {frame.dtype}; expected uint8 (0–255) BGR or BGRA")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        raise LivestyleError(f"frame {frame.shape} is greyscale; convert it with cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)")
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise LivestyleError(f"frame shape {frame.shape}: expected H×W×3 (BGR) or H×W×4 (BGRA)")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise LivestyleError(f"frame shape {frame.shape} is empty")
    channels = frame.shape[2]
    if frame.strides[2] != 1 or frame.strides[1] != channels or frame.strides[0] < channels * frame.shape[1]:
        frame = np.ascontiguousarray(frame)  # flipped or channel-sliced views: one copy
    return frame


def parse_output_size(value) -> tuple[int, int] | str | None:
    if value is None or value == "input":
        return value
    if isinstance(value, str):
        parts = value.lower().replace("×", "x").split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise LivestyleError(f"output size {value!r}: write WIDTHxHEIGHT, e.g. 1920x1080, or 'input'")
        value = tuple(int(p) for p in parts)
    width, height = (int(v) for v in value)
    if width < 1 or height < 1:
        raise LivestyleError(f"output size {width}x{height} must be positive")
    return width, height


class Stylizer:
    """Frames in, stylised frames out, on one backend chosen by name or by `auto` (timed, cached).

    model: the game2movie.safetensors of a run (or the run folder, or an nn.Module).
    backend: auto | tensorrt | torch-cuda | onnxruntime | torch-cpu.
    size: inference size "640x360" or (640, 360); default 640x360, or the size of `engine`.
    engine: an ONNX file / TensorRT engine to use (else engines_dir is searched by sidecar).
    threads: CPU threads for torch-cpu and onnxruntime (default: all cores).
    After construction, `report` holds one line per candidate backend saying why it was (not) used.
    """

    def __init__(self, model: str | Path | nn.Module | Model, backend: str = "auto", *, size=None, output_size=None,
                 threads: int | None = None, engines_dir: str | Path = "engines", engine: str | Path | None = None,
                 cache_path: str | Path | None = None, cuda_mode: str = "graph", machine: Machine | None = None,
                 log=log_to_stderr):
        if backend != "auto" and backend not in NAMES:
            raise LivestyleError(f"unknown backend {backend!r}; choose from auto, {', '.join(NAMES)}")
        machine = machine or probe()
        self.model = load_model(model)
        if engine is not None:
            sidecar = read_sidecar(engine)
            built = tuple(sidecar.get("input", {}).get("size", ()))
            if size is not None and parse_size(size) != built:
                raise LivestyleError(f"{engine} was built for {'x'.join(map(str, built))}, not {format_size(parse_size(size))}")
            size = built
            if backend == "auto":
                backend = "tensorrt" if sidecar.get("format") == "tensorrt" else "onnxruntime"
        size = parse_size(size) if size is not None else DEFAULT_SIZE
        options = dict(engines_dir=engines_dir, engine=engine, threads=threads, cuda_mode=cuda_mode, log=log)
        if backend == "auto":
            from .auto import choose

            self.backend, self.report = choose(self.model, size, machine, cache_path=cache_path, **options)
        else:
            self.backend = open_backend(backend, self.model, size, machine, **options)
            self.report = [f"{backend}: {self.backend.detail} (asked for by name)"]
        self._setup(output_size)

    @classmethod
    def from_backend(cls, backend: Backend, output_size=None) -> "Stylizer":
        """A Stylizer around an already opened backend (auto's timing, benchmarks)."""
        self = cls.__new__(cls)
        self.model, self.backend, self.report = None, backend, []
        self._setup(output_size)
        return self

    def _setup(self, output_size) -> None:
        backend = self.backend
        self.size = backend.size
        self.output_size = parse_output_size(output_size) or backend.size
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

    @property
    def name(self) -> str:
        return self.backend.name

    def describe(self) -> str:
        return f"{self.backend.name} ({self.backend.detail}) at {format_size(self.size)}"

    def _stream_context(self):
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

    def _load(self, frame: np.ndarray) -> None:
        """Resize (once), BGR(A) → RGB, uint8 → [-1, 1], into the backend's input buffer."""
        width, height = self.size
        channels = frame.shape[2]
        staging = self._staging_for(channels)
        if frame.shape[:2] != (height, width):
            shrink = frame.shape[0] * frame.shape[1] > width * height
            source = cv2.resize(frame, (width, height), dst=staging,
                                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        elif self.cuda or not frame.flags.writeable:
            np.copyto(staging, frame)
            source = staging
        else:
            source = frame  # CPU, right size: read in place
        pixels = torch.from_numpy(source)
        if self.cuda:
            pixels = self._device_frames[channels].copy_(pixels, non_blocking=True)
        planes = pixels.permute(2, 0, 1)  # C×H×W view: B, G, R(, A)
        target = self.backend.input[0]
        target[0].copy_(planes[2])
        target[1].copy_(planes[1])
        target[2].copy_(planes[0])
        target.mul_(2 / 255).sub_(1)

    def _store(self, output: torch.Tensor) -> np.ndarray:
        """RGB [-1, 1] NCHW → uint8 BGR H×W×3 (round half up, clamped) in the result buffer."""
        torch.mul(output[0], 127.5, out=self._scaled)
        self._scaled.add_(128.0).clamp_(0.0, 255.0)  # (y + 1) · 127.5 + 0.5, truncated below
        planes = self._result.permute(2, 0, 1)
        planes[0].copy_(self._scaled[2])
        planes[1].copy_(self._scaled[1])
        planes[2].copy_(self._scaled[0])
        if self.cuda:
            self._host_result.copy_(self._result, non_blocking=True)
            self.stream.synchronize()
        return self._host_result.numpy()

    def __call__(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        frame = check_frame(frame)
        with torch.no_grad(), self._stream_context():
            self._load(frame)
            result = self._store(self.backend.forward())
        target = (frame.shape[1], frame.shape[0]) if self.output_size == "input" else self.output_size
        if out is not None and (out.shape != (target[1], target[0], 3) or out.dtype != np.uint8):
            raise LivestyleError(f"out has shape {out.shape} {out.dtype}; expected ({target[1]}, {target[0]}, 3) uint8")
        if target == tuple(self.size):
            if out is None:
                return result.copy()
            np.copyto(out, result)
            return out
        shrink = target[0] * target[1] < self.size[0] * self.size[1]
        return cv2.resize(result, target, dst=out, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def run_model(self) -> torch.Tensor:
        """The network alone on the current input buffer, finished (for benchmarks)."""
        with torch.no_grad(), self._stream_context():
            output = self.backend.forward()
        if self.stream is not None:
            self.stream.synchronize()
        return output

    def close(self) -> None:
        self.backend.close()
