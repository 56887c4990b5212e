"""Stylizer: a game frame in, the film version out.

    stylizer = Stylizer("runs/faces-20261126-101500/game2movie.safetensors")   # backend "auto"
    film = stylizer(frame)            # frame: uint8 H×W×3 BGR (OpenCV, video) or H×W×4 BGRA (screen capture)

Any input size is accepted. The frame is resized once (cv2; INTER_AREA when shrinking, else
INTER_LINEAR) to the inference size — a fixed width × height, each a multiple of the model's
size_multiple (8), default 640×360 or the engine's size — squashing it if the aspect ratio differs,
as training does (no padding: pick an inference size with your screen's aspect ratio). Then, with
torch ops on the backend's device into buffers allocated once (livestyle.runtime.frames): channels BGR(A) →
RGB, uint8 → [-1, 1], NCHW. The output goes back the same way to uint8 BGR (rounded, clamped), at
the inference size, or resized to `output_size` ((width, height), or "input" for each frame's own
size).

The returned array is new unless you pass `out=` (an array of the output shape to write into).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from livestyle.core.errors import LivestyleError
from livestyle.core.images import resize
from livestyle.core.logs import say
from livestyle.core.memory import check_memory
from livestyle.core.sizes import DEFAULT_SIZE, format_size, parse_output_size, parse_size
from livestyle.model.loaded import Model, load_model
from livestyle.model.memory import inference_bytes
from livestyle.runtime.backends import NAMES, Backend, open_backend
from livestyle.runtime.engines.sidecars import read_sidecar
from livestyle.runtime.frames import FrameConverter, check_frame
from livestyle.runtime.grain import FilmGrain, model_grain
from livestyle.runtime.machine import Machine, probe
from livestyle.runtime.options import RuntimeOptions
from livestyle.runtime.timing import choose

CPU_BACKENDS = ("torch-cpu", "onnxruntime", "opencv")  # the model's memory is the process's memory


class Stylizer:
    """Frames in, stylised frames out, on one backend chosen by name or by `auto` (timed, cached).

    model: the game2movie.safetensors of a run (or the run folder, or an nn.Module).
    backend: auto | tensorrt | torch-cuda | onnxruntime | torch-cpu.
    size: inference size "640x360" or (640, 360); default 640x360, or the size of `engine`.
    engine: an ONNX file / TensorRT engine to use (else engines_dir is searched by sidecar).
    threads: CPU threads for torch-cpu and onnxruntime (default: all cores).
    batch: images per forward pass (default 1, or the engine's): faces mode's crops (stylize_batch).
    After construction, `report` holds one line per candidate backend saying why it was (not) used.
    """

    def __init__(self, model: str | Path | nn.Module | Model, backend: str = "auto", *, size=None, output_size=None,
                 threads: int | None = None, engines_dir: str | Path = "engines", engine: str | Path | None = None,
                 cache_path: str | Path | None = None, cuda_mode: str = "graph", machine: Machine | None = None,
                 log=say, batch: int | None = None, options: RuntimeOptions | None = None, grain: bool = False):
        backend_settings = dict(engines_dir=engines_dir, threads=threads, cuda_mode=cuda_mode)
        if options is not None:  # a command's options: its backend and what it tells every backend
            backend = options.backend
            backend_settings.update(options.for_backends())
        if backend != "auto" and backend not in NAMES:
            raise LivestyleError(f"unknown backend {backend!r}; choose from auto, {', '.join(NAMES)}")
        machine = machine or probe()
        loaded = load_model(model)
        self.model: Model | None = loaded  # None only around an opened backend (from_backend)
        multiple = loaded.size_multiple
        if engine is not None:
            sidecar = read_sidecar(engine)
            built = tuple(sidecar.get("input", {}).get("size", ()))
            if size is not None and parse_size(size, multiple=multiple) != built:
                raise LivestyleError(f"{engine} was built for {'x'.join(map(str, built))}, "
                                     f"not {format_size(parse_size(size, multiple=multiple))}")
            size = built
            batch = batch or sidecar["input"].get("batch", 1)
            if backend == "auto":
                backend = "tensorrt" if sidecar.get("format") == "tensorrt" else "onnxruntime"
        size = parse_size(size, multiple=multiple) if size is not None else DEFAULT_SIZE
        batch = batch or 1
        if backend in CPU_BACKENDS or (backend == "auto" and not machine.gpu):  # a GPU's memory is its own
            check_memory(f"running {loaded.label} at {format_size(size)}" + (f", {batch} at once" if batch > 1 else ""),
                         inference_bytes(loaded.module, size, batch), "choose a smaller --size (or --scale)")
        settings = dict(backend_settings, engine=engine, log=log, batch=batch)
        if backend == "auto":
            self.backend, self.report = choose(loaded, size, machine, cache_path=cache_path, **settings)
        else:
            self.backend = open_backend(backend, loaded, size, machine, **settings)
            self.report = [f"{backend}: {self.backend.detail} (asked for by name)"]
        self._setup(output_size)
        # Grain for a caller that shows the pictures itself; the app and the video job draw it after their
        # stabiliser instead (film_grain()), and scores never have it.
        self.grain = self.film_grain() if grain else None

    @classmethod
    def from_backend(cls, backend: Backend, output_size=None) -> "Stylizer":
        """A Stylizer around an already opened backend (benchmarks)."""
        self = cls.__new__(cls)
        self.model, self.backend, self.report = None, backend, []
        self._setup(output_size)
        self.grain = None
        return self

    def _setup(self, output_size) -> None:
        self.size = self.backend.size
        # "input": each frame's own size; else a size (parse_output_size's rule), by default the inference size
        self.output_size: tuple[int, int] | str = (
            "input" if output_size == "input" else
            parse_output_size(output_size) if output_size is not None else self.backend.size)
        self.converter = FrameConverter(self.backend)

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def faces_on(self) -> bool | None:
        return None  # one model over the whole picture: not faces mode

    @faces_on.setter
    def faces_on(self, value: bool) -> None:
        raise LivestyleError("not in faces mode: start with --faces")

    def describe(self) -> str:
        return f"{self.backend.name} ({self.backend.detail}) at {format_size(self.size)}"

    @property
    def engine_file(self) -> str | None:
        """The built engine file running, if one is (its failures are the engine's, not the backend's)."""
        source = getattr(self.backend, "source", "") or ""
        return Path(source).name if Path(source).suffix in (".onnx", ".engine", ".plan") else None

    def status(self) -> dict | None:
        return None

    def film_grain(self) -> FilmGrain | None:
        amount = model_grain(self.model)
        return FilmGrain(amount) if amount > 0 else None

    def on_cpu(self, threads: int | None = None, log=say) -> "Stylizer":
        """The same model at the same sizes on torch-cpu (the live pipeline's fallback)."""
        if self.model is None:
            raise LivestyleError("a Stylizer made around an opened backend has no model to run on torch-cpu")
        return Stylizer(self.model, "torch-cpu", size=self.size, output_size=self.output_size, threads=threads,
                        log=log)

    def stop(self) -> None:
        pass  # no threads of its own

    def __call__(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        frame = check_frame(frame)
        result = self.converter(frame)
        target = self.output_size if isinstance(self.output_size, tuple) else (frame.shape[1], frame.shape[0])
        if out is not None and (out.shape != (target[1], target[0], 3) or out.dtype != np.uint8):
            raise LivestyleError(f"out has shape {out.shape} {out.dtype}; expected ({target[1]}, {target[0]}, 3) uint8")
        if self.grain is not None:
            return self._with_grain(result, target, out)
        if target == tuple(self.size):
            if out is None:
                return result.copy()
            np.copyto(out, result)
            return out
        return resize(result, target, dst=out)

    def _with_grain(self, result: np.ndarray, target: tuple[int, int], out: np.ndarray | None) -> np.ndarray:
        assert self.grain is not None
        shown = self.grain(result if target == tuple(self.size) else resize(result, target))  # at the shown size
        if out is None:
            return shown
        np.copyto(out, shown)
        return out

    def stylize_batch(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Any number of frames (face crops) → stylised frames at the inference size, run in batches of
        the backend's fixed size (`batch`)."""
        step = self.backend.batch
        results = []
        for start in range(0, len(frames), step):
            results += self.converter.batch([check_frame(f) for f in frames[start:start + step]])
        return results

    def run_model(self) -> torch.Tensor:
        """The network alone on the current input buffer, finished (for benchmarks)."""
        return self.converter.run_model()

    def close(self) -> None:
        self.backend.close()
