"""onnxruntime: an ONNX export of the network run by ONNX Runtime, its input and output bound once
to our own buffers (io_binding), so a frame allocates nothing. Execution providers: TensorRT and
CUDA when the installed onnxruntime has them and torch sees a GPU, else the CPU provider.

The ONNX graph is either a built file from scripts/build_engine.py (its sidecar checked) or, when
none fits, exported in memory at start-up (a second or two)."""
from __future__ import annotations

import copy
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from livestyle.core.errors import LivestyleError, require
from livestyle.runtime.backends.base import Backend

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
TORCH = {np.float32: torch.float32, np.float16: torch.float16}


def export_onnx(module: nn.Module, size: tuple[int, int], target=None, dtype=torch.float32,
                device="cpu", batch: int = 1) -> bytes | None:
    """Export at a fixed N×3×H×W (N = batch) (fixed shapes are what TensorRT optimises best, and what a live
    overlay needs). Writes to target (path or file object) or returns the bytes. Uses torch's
    TorchScript exporter (dynamo=False), which needs no extra package."""
    module = copy.deepcopy(module).to(device, dtype).eval()  # the caller's module stays fp32 on the CPU
    example = torch.zeros(batch, 3, size[1], size[0], device=device, dtype=dtype)
    buffer = io.BytesIO() if target is None else target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant-folding notes about reflect padding's Slice steps
        # A file object is a documented target; the stubs name paths only.
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=17,  # type: ignore[arg-type]
                          input_names=["input"], output_names=["output"], do_constant_folding=True)
    return buffer.getvalue() if target is None else None


def onnxruntime_or_error():
    return require("onnxruntime", "pip install -e '.[onnx]'")


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, model: bytes | str | Path, size: tuple[int, int], threads: int | None = None,
                 source: str = "", cache_dir: str | Path | None = None, use_gpu: bool | None = None,
                 batch: int = 1):
        ort = onnxruntime_or_error()
        self.size, self.source = size, source or str(model)
        options = ort.SessionOptions()
        self.threads = threads or os.cpu_count() or 1
        options.intra_op_num_threads = self.threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        available = ort.get_available_providers()
        if use_gpu is None:
            use_gpu = torch.cuda.is_available()
        providers: list[str | tuple[str, dict[str, Any]]] = []
        if use_gpu and "TensorrtExecutionProvider" in available:
            trt_options: dict[str, Any] = {"trt_fp16_enable": True}
            if cache_dir is not None:
                Path(cache_dir).mkdir(parents=True, exist_ok=True)
                trt_options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir))
            providers.append(("TensorrtExecutionProvider", trt_options))
        if use_gpu and "CUDAExecutionProvider" in available:
            providers.append("CUDAExecutionProvider")
        providers.append("CPUExecutionProvider")
        try:
            self.session = ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                                providers=providers)
        except Exception as error:  # noqa: BLE001 — ORT raises its own exception types
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise LivestyleError(f"{self.source}: ONNX Runtime could not load it ({message[:200]}); rebuild it "
                                 f"with python scripts/build_engine.py --format onnx") from None
        self.providers = self.session.get_providers()
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise LivestyleError(f"{self.source}: expected one input and one output, found {len(inputs)} and "
                                 f"{len(outputs)}; it is not a livestyle generator export")
        expected = [batch, 3, size[1], size[0]]
        shape = [d if isinstance(d, int) else e for d, e in zip(inputs[0].shape, expected, strict=False)]
        if shape != expected or inputs[0].type not in NUMPY:
            raise LivestyleError(f"{self.source}: input {inputs[0].type} {inputs[0].shape} does not fit "
                                 f"{expected} float; rebuild it at this size with python scripts/build_engine.py")
        given = [d if isinstance(d, int) else e for d, e in zip(outputs[0].shape, expected, strict=False)]
        if given != expected or len(outputs[0].shape) != 4 or outputs[0].type not in NUMPY:
            raise LivestyleError(f"{self.source}: its output {outputs[0].type} {outputs[0].shape} is not the "
                                 f"{expected} float picture a livestyle generator gives for this input; the engine is "
                                 f"not one build_engine made for this model: rebuild it with python "
                                 f"scripts/build_engine.py")
        element = NUMPY[inputs[0].type]
        on_gpu = self.providers[0] in GPU_PROVIDERS
        self.device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
        self.input = torch.zeros(expected, dtype=TORCH[element], device=self.device)
        self.output = torch.empty(expected, dtype=TORCH[NUMPY.get(outputs[0].type, np.float32)], device=self.device)
        kind, index = ("cuda", self.device.index) if on_gpu else ("cpu", 0)
        self.binding = self.session.io_binding()
        self.binding.bind_input(inputs[0].name, kind, index, element, expected, self.input.data_ptr())
        self.binding.bind_output(outputs[0].name, kind, index, NUMPY.get(outputs[0].type, np.float32), expected,
                                 self.output.data_ptr())
        self.stream = torch.cuda.Stream(self.device) if on_gpu else None
        if not on_gpu:
            torch.set_num_threads(self.threads)  # the Stylizer's pre/post-processing runs as torch ops on the CPU
        short = self.providers[0].replace("ExecutionProvider", "")
        self.detail = f"{short} provider, {'fp16' if element is np.float16 else 'fp32'}" + (
            "" if on_gpu else f", {self.threads} thread{'s' if self.threads > 1 else ''}")

    def forward(self) -> torch.Tensor:
        if self.stream is not None:
            self.stream.synchronize()  # ORT reads the input on its own stream
        self.session.run_with_iobinding(self.binding)
        if self.stream is not None:
            self.binding.synchronize_outputs()
        return self.output

    def close(self) -> None:
        self.session = self.binding = None
