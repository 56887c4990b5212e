"""The five inference backends, each in its own small module and each importing its optional
library (onnxruntime, tensorrt) only when opened. NAMES is also the order `auto` tries them in
when nothing is cached. opencv runs film looks only (no network)."""
from __future__ import annotations

from pathlib import Path

from livestyle.core.errors import LivestyleError
from livestyle.core.logs import say
from livestyle.core.sizes import format_size
from livestyle.faces.crop import FACES_BATCH
from livestyle.model.loaded import Model
from livestyle.runtime.backends.base import Backend
from livestyle.runtime.backends.onnx_runtime import OnnxRuntimeBackend, export_onnx
from livestyle.runtime.backends.opencv_look import OpenCVBackend, is_look
from livestyle.runtime.backends.tensorrt_engine import TensorRTBackend
from livestyle.runtime.backends.torch_cpu import TorchCPUBackend
from livestyle.runtime.backends.torch_cuda import TorchCUDABackend
from livestyle.runtime.engines.sidecars import check_artifact, select_artifact
from livestyle.runtime.machine import Machine

NAMES = ("tensorrt", "torch-cuda", "onnxruntime", "opencv", "torch-cpu")
FIXES = {"tensorrt": "pip install -e '.[tensorrt]' on a machine with an NVIDIA GPU",
         "torch-cuda": "python -m livestyle doctor says what is missing",
         "onnxruntime": "pip install -e '.[onnx]'", "opencv": "use --backend auto",
         "torch-cpu": ""}


def unavailable(name: str, machine: Machine, model: Model | None = None) -> str | None:
    """Why a backend cannot run on this machine at all, or this model where one is given (None: it can,
    given an engine where it needs one)."""
    if name == "tensorrt":
        if machine.tensorrt is None:
            return machine.tensorrt_error or "not installed"
        return None if machine.gpu else "no CUDA device"
    if name == "torch-cuda":
        if machine.gpu:
            return None
        if machine.torch_cuda is None:
            return f"no CUDA device (torch {machine.torch} is a CPU-only build)"
        return "no CUDA device"
    if name == "onnxruntime":
        return None if machine.onnxruntime else (machine.onnxruntime_error or "not installed")
    if name == "opencv":
        if model is None or is_look(model.module):
            return None
        return f"runs film looks only, and this model is a {model.architecture.get('class', 'network')}"
    if name == "torch-cpu":
        return None
    raise LivestyleError(f"unknown backend {name!r}; choose from auto, {', '.join(NAMES)}")


def open_backend(name: str, model: Model, size: tuple[int, int], machine: Machine, *, engines_dir="engines",
                 engine: str | Path | None = None, threads: int | None = None, cuda_mode: str = "graph",
                 log=say, batch: int = 1) -> Backend:
    """Open one backend by name; LivestyleError (one line, saying why and what to do) when it cannot."""
    reason = unavailable(name, machine, model)
    if reason:
        raise LivestyleError(f"{name}: {reason} ({FIXES[name]})")
    if name == "torch-cpu":
        return TorchCPUBackend(model.module, size, threads, batch=batch)
    if name == "opencv":
        return OpenCVBackend(model.module, size, threads, batch=batch)
    if name == "torch-cuda":
        return TorchCUDABackend(model.module, size, mode=cuda_mode, log=log, batch=batch)
    fmt = "tensorrt" if name == "tensorrt" else "onnx"
    if engine is not None:
        sidecar = check_artifact(engine, machine, weights_sha256=model.sha256, size=size, batch=batch)
        path: Path | None = Path(engine)
        if sidecar.get("format") != fmt:
            wanted = "tensorrt" if sidecar.get("format") == "tensorrt" else "onnxruntime"
            raise LivestyleError(f"{engine} is a {sidecar.get('format')} file: use backend {wanted}, not {name}")
    else:
        path, refused = select_artifact(engines_dir, fmt, machine, weights_sha256=model.sha256, size=size,
                                        batch=batch)
        sidecar = None
        if path is None and name == "tensorrt":
            detail = f" ({'; '.join(refused)})" if refused else ""
            weights = f" --weights {model.path}" if model.path else ""
            raise LivestyleError(f"tensorrt: no usable engine for these weights at {format_size(size)} on this GPU "
                                 f"in {engines_dir}/{detail}; build one: python scripts/build_engine.py{weights} "
                                 f"--size {format_size(size)}{batch_flag(batch, model.kind)} --format tensorrt")
        if refused:
            log(f"{name}: ignoring {'; '.join(refused)}")
    if name == "tensorrt":
        assert path is not None, "refused above"
        return TensorRTBackend(path, size, (sidecar or {}).get("precision", ""), batch=batch)
    cache_dir = Path(engines_dir) / "onnxruntime-trt-cache"
    if path is None:
        log(f"onnxruntime: no ONNX file for these weights at {format_size(size)} in {engines_dir}/; exporting in "
            f"memory (python scripts/build_engine.py --format onnx{batch_flag(batch, model.kind)} saves this step)")
        exported = export_onnx(model.module, size, batch=batch)
        assert exported is not None, "no target: the bytes come back"
        return OnnxRuntimeBackend(exported, size, threads,
                                  source=f"{model.label} (in memory)", cache_dir=cache_dir, batch=batch)
    return OnnxRuntimeBackend(path, size, threads, source=str(path), cache_dir=cache_dir, batch=batch)


def batch_flag(batch: int, kind: str = "frames") -> str:
    """The build_engine.py flag for a batch (none for its default: 1 for a frames model, FACES_BATCH for faces)."""
    return f" --batch {batch}" if batch != (FACES_BATCH if kind == "faces" else 1) else ""
