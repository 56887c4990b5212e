"""torch-cpu: the network in fp32 on the CPU, intra-op threads on all cores unless told otherwise.
(channels_last measured slower than NCHW here on a 2-core Xeon, so the layout stays NCHW.)"""
from __future__ import annotations

import os

import torch
from torch import nn

from livestyle.runtime.backends.base import Backend


class TorchCPUBackend(Backend):
    name = "torch-cpu"

    def __init__(self, module: nn.Module, size: tuple[int, int], threads: int | None = None, batch: int = 1):
        self.threads = threads or os.cpu_count() or 1
        torch.set_num_threads(self.threads)
        self.module = module.float().eval()
        self.size = size
        self.input = torch.zeros(batch, 3, size[1], size[0])
        self.detail = f"fp32, {self.threads} thread{'s' if self.threads > 1 else ''}"

    def forward(self) -> torch.Tensor:
        with torch.no_grad():
            return self.module(self.input)

    def close(self) -> None:
        self.release("module")
