"""What this machine offers the runtime: CPU, CUDA GPU, TensorRT, ONNX Runtime. Optional libraries
are imported here, lazily; a missing or broken one becomes a reason string, never an import error."""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import torch


@dataclass
class Machine:
    cpu: str
    cores: int
    torch: str
    torch_cuda: str | None  # CUDA version torch was built with; None for a CPU-only build
    gpu: dict | None  # {"name", "compute_capability", "count"} of the current device
    tensorrt: str | None = None
    tensorrt_error: str | None = None
    onnxruntime: str | None = None
    onnxruntime_error: str | None = None
    ort_providers: list[str] = field(default_factory=list)
    onnx: str | None = None

    @property
    def device_key(self) -> str:
        """Which processor a timing belongs to (the backend cache key)."""
        if self.gpu:
            return f"cuda:{self.gpu['name']} (sm_{self.gpu['compute_capability'].replace('.', '')})"
        return f"cpu:{self.cpu} ({self.cores} cores)"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """One line for a benchmark or study: CPU, cores, torch, Python, GPU (or none), today's date."""
    text = (f"{cpu_name()}, {os.cpu_count()} cores visible, torch {torch.__version__}, "
            f"Python {platform.python_version()}")
    gpu = gpu_identity()
    if gpu:
        text += f", GPU {gpu['name']} (sm_{gpu['compute_capability'].replace('.', '')}), CUDA {torch.version.cuda}"
    else:
        text += ", no GPU"
    return f"{text}; {date.today().isoformat()}"


def gpu_identity() -> dict | None:
    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability()
    return {"name": torch.cuda.get_device_name(), "compute_capability": f"{major}.{minor}",
            "count": torch.cuda.device_count()}


def import_error(error: BaseException) -> str:
    if isinstance(error, ModuleNotFoundError):
        return "not installed"
    return f"import failed ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"


def probe() -> Machine:
    machine = Machine(cpu=cpu_name(), cores=os.cpu_count() or 1, torch=torch.__version__,
                      torch_cuda=torch.version.cuda, gpu=gpu_identity())
    try:
        import tensorrt

        machine.tensorrt = tensorrt.__version__
    except Exception as error:  # noqa: BLE001 — a broken install is a reason, not a crash
        machine.tensorrt_error = import_error(error)
    try:
        import onnxruntime

        machine.onnxruntime = onnxruntime.__version__
        machine.ort_providers = list(onnxruntime.get_available_providers())
    except Exception as error:  # noqa: BLE001
        machine.onnxruntime_error = import_error(error)
    try:
        import onnx

        machine.onnx = onnx.__version__
    except Exception:  # noqa: BLE001
        pass
    return machine
