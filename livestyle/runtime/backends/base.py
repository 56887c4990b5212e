"""What every backend offers the Stylizer: a fixed-size NCHW input buffer on its device, already
allocated, and forward() that runs the network on it and returns the output (NCHW, RGB, [-1, 1]).
The batch (N) is fixed too: 1 for whole frames, a few for faces mode's face crops."""
from __future__ import annotations

import torch


class Backend:
    name = "?"
    device = torch.device("cpu")
    stream: "torch.cuda.Stream | None" = None  # CUDA backends: the non-default stream they run on
    size: tuple[int, int]  # width, height
    input: torch.Tensor  # (N, 3, H, W), RGB in [-1, 1], the backend's dtype
    detail = ""  # precision, threads, providers: for reports

    @property
    def batch(self) -> int:
        return self.input.shape[0]

    def forward(self) -> torch.Tensor:
        raise NotImplementedError

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            (self.stream or torch.cuda.current_stream(self.device)).synchronize()

    def close(self) -> None:
        """Drop references to device memory (auto closes the candidates it does not keep)."""

    def release(self, *names: str) -> None:
        """close()'s work: these attributes no longer hold the network or its buffers."""
        for name in names:
            setattr(self, name, None)
