"""torch-cuda: the network on a CUDA GPU in fp16 (or fp32), channels_last, on a non-default stream.

mode "graph" (default) captures one forward pass in a CUDA graph, so each frame is a single graph
launch instead of ~60 kernel launches; "compile" runs torch.compile (inductor) first and captures
that; "eager" runs the module as is. scripts/gpu_check.py --checks inference measures all three.
A capture that fails falls back to eager with a message.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from livestyle.core.errors import LivestyleError
from livestyle.runtime.backends.base import Backend

MODES = ("graph", "compile", "eager")


class TorchCUDABackend(Backend):
    name = "torch-cuda"

    def __init__(self, module: nn.Module, size: tuple[int, int], mode: str = "graph", precision: str = "fp16",
                 log=None, batch: int = 1):
        if not torch.cuda.is_available():
            raise LivestyleError("torch-cuda: no CUDA device")
        if mode not in MODES:
            raise LivestyleError(f"torch-cuda mode {mode!r}: choose from {', '.join(MODES)}")
        self.device = torch.device("cuda", torch.cuda.current_device())
        self.size, self.mode = size, mode
        dtype = torch.float16 if precision == "fp16" else torch.float32
        torch.backends.cudnn.benchmark = True  # fixed input size: autotune once, then reuse
        # torch's stubs omit Module.to(memory_format=), which it documents and takes.
        self.module = copy.deepcopy(module).to(self.device, dtype).to(  # type: ignore[call-overload]
            memory_format=torch.channels_last).eval()
        self.input = torch.zeros(batch, 3, size[1], size[0], device=self.device, dtype=dtype).contiguous(
            memory_format=torch.channels_last)
        self.stream = torch.cuda.Stream(self.device)
        self.stream.wait_stream(torch.cuda.current_stream(self.device))  # the weights and input were made there
        self.run = torch.compile(self.module, dynamic=False) if mode == "compile" else self.module
        self.graph = None
        with torch.no_grad(), torch.cuda.stream(self.stream):
            for _ in range(3):  # warm-up on the side stream: cuDNN autotuning, compilation; required before capture
                self.output = self.run(self.input)
        self.stream.synchronize()
        if mode in ("graph", "compile"):
            try:
                graph = torch.cuda.CUDAGraph()
                with torch.no_grad(), torch.cuda.graph(graph, stream=self.stream):
                    self.output = self.run(self.input)
                self.graph = graph
            except Exception as error:  # noqa: BLE001 — eager still works
                torch.cuda.synchronize()
                if log:
                    log(f"torch-cuda: CUDA graph capture failed ({str(error).splitlines()[0]}); running eagerly")
        how = {"graph": "CUDA graph", "compile": "torch.compile + CUDA graph", "eager": "eager"}[mode]
        if mode != "eager" and self.graph is None:
            how = "compiled, eager launches" if mode == "compile" else "eager (capture failed)"
        self.detail = f"{precision}, channels_last, {how}"

    def forward(self) -> torch.Tensor:
        if self.graph is not None:
            self.graph.replay()  # on the current stream: the Stylizer runs inside torch.cuda.stream(self.stream)
            return self.output
        with torch.no_grad():
            return self.run(self.input)

    def close(self) -> None:
        self.release("graph", "module", "run", "output", "input")
