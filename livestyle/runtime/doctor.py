"""`python -m livestyle doctor`: what this machine offers livestyle, and which backend `auto` would
use. Imports every optional library lazily; a missing one is a line of the report, not a crash.
A --model that cannot be loaded or run is the one thing that is a failure: the command exits non-zero."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from livestyle.core import __version__
from livestyle.core.errors import LivestyleError
from livestyle.core.sizes import format_size
from livestyle.model.weights import WEIGHTS_FILE
from livestyle.runtime.backends import NAMES, unavailable
from livestyle.runtime.machine import Machine, probe
from livestyle.runtime.stylizer import Stylizer

TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"


def nvidia_smi() -> tuple[str | None, str | None]:
    """(GPU list, driver CUDA version) from nvidia-smi, or (None, None) where there is none."""
    if shutil.which("nvidia-smi") is None:
        return None, None
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout.strip()
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as error:
        return f"nvidia-smi failed ({error})", None
    match = re.search(r"CUDA Version:\s*([\d.]+)", header)
    return listing or "nvidia-smi lists no GPU", match[1] if match else None


def module_version(name: str) -> tuple[str | None, str | None]:
    try:
        module = __import__(name)
    except ModuleNotFoundError:
        return None, "not installed"
    except Exception as error:  # noqa: BLE001
        return None, f"import failed ({type(error).__name__}: {error})"
    return getattr(module, "__version__", "installed"), None


def display_lines() -> list[str]:
    x11, wayland = os.environ.get("DISPLAY"), os.environ.get("WAYLAND_DISPLAY")
    session = os.environ.get("XDG_SESSION_TYPE", "")
    lines = []
    if platform.system() != "Linux":
        lines.append(f"display: {platform.system()} desktop")
    elif not x11 and not wayland:
        lines.append("display: none ($DISPLAY and $WAYLAND_DISPLAY unset) — the overlay needs a desktop session")
    else:
        lines.append(f"display: DISPLAY={x11 or '-'} WAYLAND_DISPLAY={wayland or '-'} session={session or '?'}")
    if wayland or session == "wayland":
        lines.append("  warning: Wayland — mss captures through XWayland only; native Wayland windows may come out "
                     "black. Log in to an X11 session (e.g. 'Ubuntu on Xorg') for screen capture")
    return lines


def report(machine: Machine | None = None, model=None, size=(640, 360), engines_dir="engines", cache_path=None,
           threads=None, failures: list[str] | None = None) -> list[str]:
    """The report's lines. Why --model could not be run is a line here and, where `failures` is
    given, appended to it (the command then exits non-zero)."""
    machine = machine or probe()
    lines = [f"livestyle {__version__}, Python {platform.python_version()}, {platform.platform()}",
             f"CPU: {machine.cpu}, {machine.cores} cores"]
    smi, driver_cuda = nvidia_smi()
    build = f"CUDA {machine.torch_cuda}" if machine.torch_cuda else "CPU-only build"
    lines.append(f"torch {machine.torch} ({build})")
    if machine.gpu:
        lines.append(f"GPU: {machine.gpu['name']} (sm_{machine.gpu['compute_capability'].replace('.', '')}), "
                     f"{machine.gpu['count']} visible; torch CUDA {machine.torch_cuda}"
                     + (f", driver supports CUDA {driver_cuda}" if driver_cuda else ""))
    else:
        lines.append("GPU: none visible to torch" + (f"; nvidia-smi: {smi}" if smi else " (no nvidia-smi either)"))
        if smi and machine.torch_cuda is None:
            lines.append("  problem: this torch is a CPU-only build but nvidia-smi sees an NVIDIA GPU. Fix: "
                         f"pip install torch --index-url {TORCH_CUDA_INDEX}  (pick the cuXXX no newer than the "
                         f"driver's CUDA {driver_cuda or 'version nvidia-smi shows'})")
        elif smi:
            lines.append("  problem: torch has CUDA but sees no device: check the driver (nvidia-smi) and "
                         "CUDA_VISIBLE_DEVICES")
    lines.append(f"TensorRT: {machine.tensorrt or machine.tensorrt_error}"
                 + ("" if machine.tensorrt else " (pip install -e '.[tensorrt]' on a CUDA machine)"))
    if machine.onnxruntime:
        lines.append(f"ONNX Runtime: {machine.onnxruntime}, providers: {', '.join(machine.ort_providers)}")
    else:
        lines.append(f"ONNX Runtime: {machine.onnxruntime_error} (pip install -e '.[onnx]')")
    lines.append(f"ONNX: {machine.onnx or 'not installed'}")
    mss_version, mss_error = module_version("mss")
    lines.append(f"screen capture: mss {mss_version}" if mss_version else f"screen capture: mss {mss_error} "
                 "(pip install -e '.[gui]')")
    lines += display_lines()
    pyside_version, pyside_error = module_version("PySide6")
    lines.append(f"PySide6: {pyside_version}" if pyside_version
                 else f"PySide6: {pyside_error} (pip install -e '.[gui]')")
    lines.append("backends (auto's order when nothing is timed yet):")
    for name in NAMES:
        reason = unavailable(name, machine)
        if name == "tensorrt" and reason is None:
            engines = sorted(Path(engines_dir).glob("*.engine"))
            reason_text = f"available ({len(engines)} engine file(s) in {engines_dir}/)"
        else:
            reason_text = "available" if reason is None else reason
            reason_text += " (film looks only)" if name == "opencv" else ""
        lines.append(f"  {name}: {reason_text}")
    if model is None:
        lines.append(f"auto: pass --model runs/<run>/{WEIGHTS_FILE} to time the backends and see its choice")
        return lines
    architecture = getattr(model, "architecture", {})
    if architecture.get("class") == "PyramidGenerator":
        lines.append(f"model: a {architecture['levels']}-level Laplacian pyramid around GANimorph "
                     f"N={architecture['features']} (any inference size)")
    elif architecture.get("class") == "Generator":
        lines.append(f"model: GANimorph N={architecture['features']} (inference sides multiples of 8)")
    elif architecture.get("class") == "ColourLook":
        lines.append(f"model: a colour look, tone curves of {architecture['curve_points']} knees (any inference size)")
    elif architecture.get("class") == "LookPyramid":
        lines.append(f"model: a film look, then a {architecture['levels']}-level Laplacian pyramid around GANimorph "
                     f"N={architecture['features']} (any inference size)")
    elif architecture.get("class") == "FilmLook":
        lines.append(f"model: a film look (soft focus, bloom, vignette; a colour look with tone curves of "
                     f"{architecture['curve_points']} knees; any inference size)")
    lines.append(f"auto for {getattr(model, 'label', model)} at {format_size(size)}:")
    try:
        stylizer = Stylizer(model, "auto", size=size, engines_dir=engines_dir, cache_path=cache_path, threads=threads,
                            machine=machine, log=lambda message: lines.append(f"  note: {message}"))
    except LivestyleError as error:
        lines.append(f"  {error}")
        if failures is not None:
            failures.append(str(error))
        return lines
    lines += [f"  {line}" for line in stylizer.report]
    stylizer.close()
    return lines
