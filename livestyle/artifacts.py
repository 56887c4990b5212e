"""Built engines (ONNX files, TensorRT engines) and their JSON sidecars.

Every artifact `X` has `X.json` beside it recording what it was built from and where: format,
precision, input size, source weights (path + sha256), architecture, channel order, GPU, library
versions, build time and the parity check against torch. The runtime uses an artifact only when
its sidecar fits the weights, the size and (for TensorRT) this GPU and TensorRT version, and
records a passed parity check; otherwise it says which of these failed.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import LivestyleError
from .machine import Machine
from .model import format_size, sha256_file

SIDECAR_FORMAT = "livestyle-engine/1"
SUFFIX = {"onnx": ".onnx", "tensorrt": ".engine"}
# Max abs difference from torch fp32 on the model output (range [-1, 1]; one 8-bit level is 0.0078).
TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2}
REBUILD = "python scripts/build_engine.py"


def write_atomic(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


def write_json_atomic(path: str | Path, value) -> Path:
    return write_atomic(path, (json.dumps(value, indent=2) + "\n").encode())


def sidecar_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def artifact_name(direction: str, weights_sha256: str, size: tuple[int, int], precision: str, fmt: str,
                  machine: Machine | None = None) -> str:
    name = f"{direction}-{weights_sha256[:12]}-{format_size(size)}-{precision}"
    if fmt == "tensorrt":
        gpu = machine.gpu
        name += f"-{slug(gpu['name'])}-sm{gpu['compute_capability'].replace('.', '')}-trt{machine.tensorrt}"
    return name + SUFFIX[fmt]


def read_sidecar(artifact: str | Path) -> dict:
    path = sidecar_path(artifact)
    if not path.is_file():
        raise LivestyleError(f"{artifact} has no sidecar {path.name}: the runtime cannot tell what it was built "
                             f"from; rebuild it with {REBUILD}")
    try:
        sidecar = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LivestyleError(f"{path} is not readable JSON ({error}); rebuild the engine with {REBUILD}") from None
    if not isinstance(sidecar, dict) or sidecar.get("sidecar_format") != SIDECAR_FORMAT:
        raise LivestyleError(f"{path} is not a livestyle engine sidecar; rebuild the engine with {REBUILD}")
    return sidecar


def problems(sidecar: dict, machine: Machine, *, weights_sha256: str | None = None,
             size: tuple[int, int] | None = None, artifact: str | Path | None = None) -> list[str]:
    """Why this artifact cannot be used here (empty: it can)."""
    found = []
    weights = sidecar.get("weights") or {}
    if weights_sha256 and weights.get("sha256") != weights_sha256:
        found.append(f"built from other weights ({weights.get('path')}, sha256 {str(weights.get('sha256'))[:12]}…, "
                     f"not {weights_sha256[:12]}…)")
    built_size = tuple(sidecar.get("input", {}).get("size", ()))
    if size and built_size != tuple(size):
        found.append(f"built for {'x'.join(map(str, built_size)) or '?'}, not {format_size(size)}")
    if sidecar.get("format") == "tensorrt":
        gpu, here = sidecar.get("gpu") or {}, machine.gpu
        if here is None:
            found.append(f"built for a {gpu.get('name')} GPU; this machine has no CUDA GPU")
        elif (gpu.get("name"), gpu.get("compute_capability")) != (here["name"], here["compute_capability"]):
            found.append(f"built on {gpu.get('name')} (sm_{str(gpu.get('compute_capability')).replace('.', '')}), "
                         f"this GPU is {here['name']} (sm_{here['compute_capability'].replace('.', '')})")
        built_trt = (sidecar.get("versions") or {}).get("tensorrt")
        if machine.tensorrt and built_trt != machine.tensorrt:
            found.append(f"built with TensorRT {built_trt}, installed is {machine.tensorrt}")
    parity = sidecar.get("parity") or {}
    if "passed" not in parity:
        found.append("no parity check recorded")
    elif not parity["passed"]:
        found.append(f"its parity check failed (max abs error {parity.get('max_abs_error')} > "
                     f"{parity.get('tolerance')})")
    if artifact is not None:
        artifact = Path(artifact)
        if not artifact.is_file():
            found.append("the file is missing")
        elif sidecar.get("artifact_sha256") and sha256_file(artifact) != sidecar["artifact_sha256"]:
            found.append("the file changed since it was built (sha256 differs from its sidecar)")
    return found


def check_artifact(artifact: str | Path, machine: Machine, *, weights_sha256: str | None = None,
                   size: tuple[int, int] | None = None) -> dict:
    """The sidecar of an artifact that can be used here; LivestyleError naming every problem otherwise."""
    artifact = Path(artifact)
    if not artifact.is_file():
        raise LivestyleError(f"engine file not found: {artifact} (build one with {REBUILD})")
    sidecar = read_sidecar(artifact)
    found = problems(sidecar, machine, weights_sha256=weights_sha256, size=size, artifact=artifact)
    if found:
        raise LivestyleError(f"{artifact}: {'; '.join(found)} — rebuild it with {REBUILD}")
    return sidecar


def find_artifacts(engines_dir: str | Path, fmt: str) -> list[tuple[Path, dict]]:
    """(artifact, sidecar) for every readable sidecar of this format in the folder, newest first."""
    engines_dir = Path(engines_dir)
    found = []
    for path in sorted(engines_dir.glob(f"*{SUFFIX[fmt]}.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        artifact = path.with_name(path.name[: -len(".json")])
        try:
            sidecar = read_sidecar(artifact)
        except LivestyleError:
            continue
        if sidecar.get("format") == fmt:
            found.append((artifact, sidecar))
    return found


def select_artifact(engines_dir: str | Path, fmt: str, machine: Machine, *, weights_sha256: str,
                    size: tuple[int, int]) -> tuple[Path | None, list[str]]:
    """The newest usable artifact for these weights and size, or None and why each candidate was refused."""
    refused, other = [], 0
    for artifact, sidecar in find_artifacts(engines_dir, fmt):
        if (sidecar.get("weights") or {}).get("sha256") != weights_sha256:
            other += 1  # another model's engine: counted, not listed
            continue
        found = problems(sidecar, machine, weights_sha256=weights_sha256, size=size, artifact=artifact)
        if not found:
            return artifact, refused
        refused.append(f"{artifact.name}: {'; '.join(found)}")
    if other:
        refused.append(f"{other} {fmt} file(s) built from other weights")
    return None, refused
