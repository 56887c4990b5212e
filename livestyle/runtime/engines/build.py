"""Build engines from generator weights (used by scripts/build_engine.py).

ONNX: exported at a fixed 1×3×H×W in fp32, checked against torch fp32 with ONNX Runtime's CPU
provider on a few random inputs, kept only if the max abs difference is within tolerance.
TensorRT: the network exported to ONNX on the GPU (in fp16 for --precision fp16: TensorRT 10+
builds it as a strongly typed network, the precision coming from the graph), parsed by TensorRT's
ONNX parser and built with a timing cache in the output folder; the engine is run through the
runtime's own TensorRT backend and checked against torch fp32 on the same GPU.
Either way the file is written to a private temporary file (livestyle.core.files: mkstemp in the output
folder, so a link planted under a guessable name is never written through) and moved into place
only after the parity check passed and its JSON sidecar (see livestyle.runtime.engines.sidecars) was written; a
failed check, a full disk or Ctrl+C leaves nothing behind. No output may be the weights it is
built from.
"""
from __future__ import annotations

import contextlib
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

import torch

from livestyle.core import __version__
from livestyle.core.errors import LivestyleError
from livestyle.core.files import atomic_writer, check_apart, sha256_file, write_bytes, write_json
from livestyle.core.logs import say
from livestyle.model.loaded import Model
from livestyle.runtime.backends.base import Backend
from livestyle.runtime.backends.onnx_runtime import OnnxRuntimeBackend, export_onnx, onnxruntime_or_error
from livestyle.runtime.backends.tensorrt_engine import TensorRTBackend, tensorrt_or_error
from livestyle.runtime.engines.sidecars import SIDECAR_FORMAT, TOLERANCE, artifact_name, sidecar_path, slug
from livestyle.runtime.frames import random_frames
from livestyle.runtime.machine import Machine

FORMATS = ("auto", "tensorrt", "onnx")


def resolve_format(fmt: str, machine: Machine) -> tuple[str, str]:
    """(format, why) — auto is tensorrt where TensorRT and a CUDA GPU exist, else onnx."""
    if fmt not in FORMATS:
        raise LivestyleError(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")
    missing = [] if machine.tensorrt else [f"tensorrt {machine.tensorrt_error or 'not installed'}"]
    if not machine.gpu:
        missing.append("no CUDA device" + (" (CPU-only torch)" if machine.torch_cuda is None else ""))
    if fmt == "tensorrt":
        if missing:
            raise LivestyleError(f"--format tensorrt needs TensorRT and a CUDA GPU: {'; '.join(missing)} "
                                 f"(pip install -e '.[tensorrt]' on a CUDA machine, or use --format onnx)")
        return "tensorrt", "asked for"
    if fmt == "onnx":
        return "onnx", "asked for"
    if missing:
        return "onnx", f"auto: {'; '.join(missing)}"
    gpu_name = machine.gpu["name"] if machine.gpu else "a GPU"  # nothing is missing: there is one
    return "tensorrt", f"auto: TensorRT {machine.tensorrt} and {gpu_name} found"


def resolve_precision(precision: str | None, fmt: str) -> str:
    if precision is None:
        return "fp16" if fmt == "tensorrt" else "fp32"
    if precision not in TOLERANCE:
        raise LivestyleError(f"--precision {precision!r}: choose fp16 or fp32")
    if fmt == "onnx" and precision == "fp16":
        raise LivestyleError("--precision fp16 with --format onnx: the ONNX file is for ONNX Runtime's CPU provider, "
                             "where fp16 is slower, not faster — use fp32 (the ONNX default), or --format tensorrt "
                             "for fp16 on a GPU")
    return precision


def versions(machine: Machine) -> dict:
    return {"livestyle": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "onnx": machine.onnx, "onnxruntime": machine.onnxruntime,
            "tensorrt": machine.tensorrt}


def measure_parity(backend: Backend, reference: torch.nn.Module, device: str, size: tuple[int, int],
                   count: int, tolerance: float) -> dict:
    """Max / mean abs difference between the backend and torch fp32 on `count` random inputs (each a
    full batch of different images)."""
    worst, total = 0.0, 0.0
    for x in random_frames(count, size, backend.batch):
        with torch.no_grad():
            expected = reference(x.to(device)).float().cpu()
            context = torch.cuda.stream(backend.stream) if backend.stream is not None else contextlib.nullcontext()
            with context:
                backend.input.copy_(x.to(backend.input.device, backend.input.dtype))
                got = backend.forward().float()
            backend.synchronize()
            difference = (got.cpu() - expected).abs()
        worst, total = max(worst, difference.max().item()), total + difference.mean().item()
    return {"inputs": count, "max_abs_error": worst, "mean_abs_error": total / count, "tolerance": tolerance,
            "passed": bool(worst <= tolerance)}


def sidecar_for(model: Model, fmt: str, precision: str, size: tuple[int, int], artifact: Path, machine: Machine,
                parity: dict, build_seconds: float, contents: Path | None = None, batch: int = 1) -> dict:
    """The sidecar of `artifact`; `contents` is where its bytes are now (the temporary file) if not there yet."""
    width, height = size
    tensor = {"shape": [batch, 3, height, width], "layout": "NCHW", "range": "[-1, 1]", "channel_order": "rgb"}
    return {
        "sidecar_format": SIDECAR_FORMAT,
        "format": fmt,
        "backend": "tensorrt" if fmt == "tensorrt" else "onnxruntime",
        "file": artifact.name,
        "artifact_sha256": sha256_file(contents or artifact),
        "precision": precision,
        "input": {"name": "input", "size": [width, height], "batch": batch, **tensor},
        "output": {"name": "output", **tensor},
        "channel_order": "rgb",
        "weights": {"path": str(model.path.resolve()) if model.path else None, "sha256": model.sha256,
                    "direction": model.direction},
        "architecture": model.architecture,
        **trained_on(model),
        "gpu": ({"name": machine.gpu["name"], "compute_capability": machine.gpu["compute_capability"]}
                if machine.gpu else None),
        "versions": versions(machine),
        "built_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "build_seconds": round(build_seconds, 1),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "parity": parity,
    }


def trained_on(model: Model) -> dict:
    """What the engine's weights were trained on, for people reading the sidecar (the runtime reads the
    weights themselves): kind, and for a faces model its crop rule and training size."""
    if model.kind != "faces" or model.info is None:
        return {"kind": model.kind}
    return {"kind": "faces", "crop_rule": model.info.crop_rule.to_metadata(), "image_size": model.info.faces_side}


def keep_apart(model: Model, outputs: dict[str, Path]) -> None:
    """No file this build writes may be (or be a link to) the weights it reads."""
    check_apart(outputs, {"--weights": model.path})


@contextlib.contextmanager
def artifact_writer(final: Path):
    """A private temporary file for the artifact; moved into place when the block ends without an
    error, after the sidecar that `keep` wrote. Should that last move fail, the new sidecar is
    removed too: it would describe a file that is not there."""
    written: list[Path] = []
    try:
        with atomic_writer(final) as handle:
            yield handle, written
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def keep(model, fmt, precision, size, temporary: Path, final: Path, machine, parity, started, written: list,
         batch: int = 1) -> None:
    """Refuse a failed parity check (the temporary file is then removed, nothing written), else
    write the sidecar describing the temporary file's bytes under the final name."""
    if not parity["passed"]:
        raise LivestyleError(f"parity check failed: {fmt} differs from torch by up to {parity['max_abs_error']:.2e} "
                             f"(tolerance {parity['tolerance']:.0e}); {final.name} was not written")
    sidecar = sidecar_for(model, fmt, precision, size, final, machine, parity, time.perf_counter() - started,
                          contents=temporary, batch=batch)
    write_json(sidecar_path(final), sidecar)
    written.append(sidecar_path(final))


def build_onnx(model: Model, size: tuple[int, int], out_dir: Path, machine: Machine, *, tolerance: float | None = None,
               parity_inputs: int = 3, log=say, batch: int = 1) -> Path:
    onnxruntime_or_error()  # the parity check needs it: fail before exporting
    started = time.perf_counter()
    tolerance = TOLERANCE["fp32"] if tolerance is None else tolerance
    final = out_dir / artifact_name(model.direction, model.sha256, size, "fp32", "onnx", batch=batch)
    keep_apart(model, {"the engine": final, "its sidecar": sidecar_path(final)})
    log(f"exporting ONNX (fp32, fixed {batch}x3x{size[1]}x{size[0]}) ...")
    # In memory: a full disk shows up as our own write's OSError.
    onnx_bytes = export_onnx(model.module, size, batch=batch)
    with artifact_writer(final) as (handle, written):
        handle.write(onnx_bytes)
        handle.flush()
        temporary = Path(handle.name)
        log(f"  {time.perf_counter() - started:.1f} s; checking parity with ONNX Runtime (CPU) on {parity_inputs} "
            f"random inputs ...")
        backend = OnnxRuntimeBackend(temporary, size, threads=None, source=str(temporary), use_gpu=False, batch=batch)
        try:
            parity = measure_parity(backend, model.module, "cpu", size, parity_inputs, tolerance)
        finally:
            backend.close()
        parity.update(reference="torch fp32, cpu", runtime="onnxruntime CPUExecutionProvider", device="cpu")
        log(f"  max abs diff {parity['max_abs_error']:.2e}, mean {parity['mean_abs_error']:.2e} "
            f"(tolerance {tolerance:.0e}): {'ok' if parity['passed'] else 'FAILED'}")
        keep(model, "onnx", "fp32", size, temporary, final, machine, parity, started, written, batch)
    log(f"wrote {final} ({final.stat().st_size / 2**20:.1f} MiB) and {sidecar_path(final).name}")
    return final


def build_tensorrt(model: Model, size: tuple[int, int], out_dir: Path, machine: Machine, *, precision: str = "fp16",
                   tolerance: float | None = None, parity_inputs: int = 3, log=say, batch: int = 1) -> Path:
    trt = tensorrt_or_error()
    gpu = machine.gpu
    if not torch.cuda.is_available() or gpu is None:
        raise LivestyleError("--format tensorrt: no CUDA device visible to torch")
    started = time.perf_counter()
    tolerance = TOLERANCE[precision] if tolerance is None else tolerance
    final = out_dir / artifact_name(model.direction, model.sha256, size, precision, "tensorrt", machine, batch)
    sm = gpu["compute_capability"].replace(".", "")
    timing_cache = out_dir / f"timing-{slug(gpu['name'])}-sm{sm}-trt{trt.__version__}.cache"
    keep_apart(model, {"the engine": final, "its sidecar": sidecar_path(final), "the timing cache": timing_cache})
    flags = getattr(trt, "NetworkDefinitionCreationFlag", None)
    strongly_typed = flags is not None and hasattr(flags, "STRONGLY_TYPED")
    half_graph = precision == "fp16" and strongly_typed
    log(f"exporting ONNX on {gpu['name']} ({'fp16' if half_graph else 'fp32'} graph, "
        f"fixed {batch}x3x{size[1]}x{size[0]}) ...")
    onnx_bytes = export_onnx(model.module, size, dtype=torch.float16 if half_graph else torch.float32, device="cuda",
                             batch=batch)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(flags.STRONGLY_TYPED) if flags is not None and strongly_typed else 0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise LivestyleError(f"TensorRT's ONNX parser rejected the export: {errors}")
    config = builder.create_builder_config()
    if precision == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)  # TensorRT < 10: weakly typed, fp16 allowed
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        try:
            config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32, not TF32 matmuls
        except Exception:  # noqa: BLE001 — strongly typed builds may own this themselves
            pass
    try:
        # A cache is only a speed-up: one that cannot be read is rebuilt from nothing.
        cached = timing_cache.read_bytes() if timing_cache.is_file() else b""
    except OSError:
        cached = b""
    cache = config.create_timing_cache(cached)
    config.set_timing_cache(cache, False)
    log(f"building the TensorRT {trt.__version__} engine ({precision}; timing cache {timing_cache.name}) — "
        f"a few minutes the first time ...")
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise LivestyleError("TensorRT could not build the engine (see its messages above)")
    write_bytes(timing_cache, bytes(config.get_timing_cache().serialize()))
    with artifact_writer(final) as (handle, written):
        handle.write(bytes(plan))
        handle.flush()
        temporary = Path(handle.name)
        log(f"  built in {time.perf_counter() - started:.0f} s; checking parity against torch fp32 on this GPU on "
            f"{parity_inputs} random inputs ...")
        backend = TensorRTBackend(temporary, size, precision, batch=batch)
        reference = model.module.float().to("cuda")
        try:
            parity = measure_parity(backend, reference, "cuda", size, parity_inputs, tolerance)
        finally:
            model.module.to("cpu")
            backend.close()
        parity.update(reference="torch fp32, cuda", runtime=f"tensorrt {trt.__version__}", device=gpu["name"],
                      compute_capability=gpu["compute_capability"])
        log(f"  max abs diff {parity['max_abs_error']:.2e}, mean {parity['mean_abs_error']:.2e} "
            f"(tolerance {tolerance:.0e}): {'ok' if parity['passed'] else 'FAILED'}")
        keep(model, "tensorrt", precision, size, temporary, final, machine, parity, started, written, batch)
    log(f"wrote {final} ({final.stat().st_size / 2**20:.1f} MiB) and {sidecar_path(final).name}")
    return final
