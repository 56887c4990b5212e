"""FrameStylizer: what the live app and the video command run, whatever is inside — one model on one
backend (runtime.stylizer.Stylizer) or faces mode (runtime.facemode.FacesStylizer). The stabiliser is
not one: the live pipeline and the video job apply it around any FrameStylizer.

Frames in are uint8 H×W×3 BGR (or ×4 BGRA, as screen capture gives them); pictures out are uint8
h×w×3 BGR. The live pipeline and the video job use only name, size, __call__ and close, so a test may
hand them anything with those four; the window and the app use the rest.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from livestyle.runtime.grain import FilmGrain


class FrameStylizer(Protocol):
    @property
    def name(self) -> str:
        """The backend it runs on (torch-cpu, onnxruntime, ...)."""
        ...

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the pictures it makes (the inference size of a plain model)."""
        ...

    @property
    def report(self) -> list[str]:
        """One line per backend it considered: why it was (not) chosen."""
        ...

    @property
    def faces_on(self) -> bool | None:
        """Whether faces mode stylises faces now (the F key sets it); None when it is not faces mode."""
        ...

    @faces_on.setter
    def faces_on(self, value: bool) -> None: ...

    def __call__(self, frame: np.ndarray) -> np.ndarray: ...

    def describe(self) -> str:
        """One line for the log: backend, detail, size."""
        ...

    @property
    def engine_file(self) -> str | None:
        """The built engine file (.onnx, TensorRT) that runs the picture's model, if one does: a failure of
        it is the engine's, to be rebuilt, not only its backend's."""
        ...

    def film_grain(self) -> FilmGrain | None:
        """New film grain as the model asks for it, to draw on the displayed picture after the stabiliser
        (livestyle.runtime.grain); None when the model has none (and in faces mode, for now)."""
        ...

    def status(self) -> dict | None:
        """The HUD's and the stats file's faces numbers; None when it is not faces mode."""
        ...

    def on_cpu(self, threads: int | None, log: Callable[[str], None]) -> FrameStylizer:
        """The same models on torch-cpu: what the live pipeline falls back to when a backend fails mid-run."""
        ...

    def stop(self) -> None:
        """End its own threads (faces mode's detector) before the process exits; the models stay open."""
        ...

    def close(self) -> None: ...
