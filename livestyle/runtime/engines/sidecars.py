"""Built engines (ONNX files, TensorRT engines) and their JSON sidecars.

Every artifact `X` has `X.json` beside it recording what it was built from and where: format,
precision, input size, source weights (path + sha256), architecture, channel order, GPU, library
versions, build time and the parity check against torch. The runtime uses an artifact only when
its sidecar fits the weights, the size and (for TensorRT) this GPU and TensorRT version, and
records a passed parity check; otherwise it says which of these failed.

A sidecar is not trusted either: `check_sidecar` checks every field the runtime reads (type and
range) and requires the artifact's sha256, so a damaged or hand-edited sidecar is one line naming
the file and the field, and a file swapped after its parity check is refused. Where the runtime
chooses among many artifacts, a bad sidecar is skipped with that line, never fatal.
"""
from __future__ import annotations

import re
from pathlib import Path

from livestyle.core.checks import FileCheck
from livestyle.core.errors import LivestyleError
from livestyle.core.files import sha256_file
from livestyle.core.logs import say
from livestyle.core.sizes import format_size
from livestyle.runtime.machine import Machine

SIDECAR_FORMAT = "livestyle-engine/1"
SUFFIX = {"onnx": ".onnx", "tensorrt": ".engine"}
# Max abs difference from torch fp32 on the model output (range [-1, 1]; one 8-bit level is 0.0078).
TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2}
REBUILD = "python scripts/build_engine.py"


FORMATS = tuple(SUFFIX)
PRECISIONS = tuple(TOLERANCE)
SHA256 = re.compile(r"[0-9a-f]{64}")

def sidecar_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def artifact_name(direction: str, weights_sha256: str, size: tuple[int, int], precision: str, fmt: str,
                  machine: Machine | None = None, batch: int = 1) -> str:
    name = f"{direction}-{weights_sha256[:12]}-{format_size(size)}{f'-b{batch}' if batch != 1 else ''}-{precision}"
    if fmt == "tensorrt":
        if machine is None or machine.gpu is None:
            raise ValueError("a TensorRT engine's name holds its GPU: pass the machine it is built on")
        gpu = machine.gpu
        name += f"-{slug(gpu['name'])}-sm{gpu['compute_capability'].replace('.', '')}-trt{machine.tensorrt}"
    return name + SUFFIX[fmt]


def check_sidecar(sidecar, path: str | Path) -> dict:
    """The sidecar with every field the runtime reads checked; LivestyleError naming the file and the
    field otherwise. Extra fields are kept: they are for people, never read."""
    check = FileCheck(path, f"rebuild the engine with {REBUILD}", sidecar)
    check.mapping()
    if sidecar.get("sidecar_format") != SIDECAR_FORMAT:
        raise check.fail(f"not a livestyle engine sidecar (sidecar_format {sidecar.get('sidecar_format')!r}, "
                         f"expected {SIDECAR_FORMAT!r})")
    fmt = check.get(sidecar, "format", str, choices=FORMATS)
    check.get(sidecar, "precision", str, choices=PRECISIONS)
    check.get(sidecar, "file", str, required=False)
    if "artifact_sha256" not in sidecar:
        raise check.fail("no artifact_sha256: cannot confirm the file is the one that was checked")
    if not SHA256.fullmatch(check.get(sidecar, "artifact_sha256", str)):
        raise check.fail("field 'artifact_sha256' is not a sha256 (64 hex digits)")
    check.size(check.get(sidecar, "input", dict), "size", "input.size")
    check.get(sidecar["input"], "batch", int, required=False, low=1, high=1024, name="input.batch")
    weights = check.get(sidecar, "weights", dict)
    check.get(weights, "sha256", str, name="weights.sha256")
    check.get(weights, "path", str, required=False, name="weights.path")
    check.get(weights, "direction", str, required=False, name="weights.direction")
    gpu = check.get(sidecar, "gpu", (dict, type(None)), required=fmt == "tensorrt")
    if fmt == "tensorrt" and gpu is None:
        raise check.fail("field 'gpu' is null, but a TensorRT engine is tied to the GPU it was built on")
    if gpu is not None:
        check.get(gpu, "name", str, name="gpu.name")
        check.get(gpu, "compute_capability", str, name="gpu.compute_capability")
    versions = check.get(sidecar, "versions", dict)
    check.get(versions, "tensorrt", str, required=fmt == "tensorrt", name="versions.tensorrt")
    parity = check.get(sidecar, "parity", dict)
    check.get(parity, "passed", bool, name="parity.passed")
    for key in ("max_abs_error", "tolerance"):
        check.get(parity, key, (int, float), required=False, name=f"parity.{key}")
    return sidecar


def read_sidecar(artifact: str | Path) -> dict:
    """The checked sidecar of an artifact; LivestyleError (one line) when it is missing or bad."""
    path = sidecar_path(artifact)
    if not path.is_file():
        raise LivestyleError(f"{artifact} has no sidecar {path.name}: the runtime cannot tell what it was built "
                             f"from; rebuild it with {REBUILD}")
    check = FileCheck(path, f"rebuild the engine with {REBUILD}")
    return check_sidecar(check.load_json(), path)


def problems(sidecar: dict, machine: Machine, *, weights_sha256: str | None = None,
             size: tuple[int, int] | None = None, artifact: str | Path | None = None,
             batch: int | None = None) -> list[str]:
    """Why this artifact cannot be used here (empty: it can)."""
    try:
        check_sidecar(sidecar, sidecar_path(artifact) if artifact is not None else "its sidecar")
    except LivestyleError as error:
        return [str(error)]
    found = []
    weights = sidecar["weights"]
    if weights_sha256 and weights["sha256"] != weights_sha256:
        found.append(f"built from other weights ({weights.get('path')}, sha256 {weights['sha256'][:12]}…, "
                     f"not {weights_sha256[:12]}…)")
    built_size = tuple(sidecar["input"]["size"])
    if size and built_size != tuple(size):
        found.append(f"built for {format_size(built_size)}, not {format_size(size)}")
    built_batch = sidecar["input"].get("batch", 1)  # sidecars before faces mode: one frame at a time
    if batch and built_batch != batch:
        found.append(f"built for batches of {built_batch}, not {batch}")
    if sidecar["format"] == "tensorrt":
        gpu, here = sidecar["gpu"], machine.gpu
        if here is None:
            found.append(f"built for a {gpu['name']} GPU; this machine has no CUDA GPU")
        elif (gpu["name"], gpu["compute_capability"]) != (here["name"], here["compute_capability"]):
            found.append(f"built on {gpu['name']} (sm_{gpu['compute_capability'].replace('.', '')}), "
                         f"this GPU is {here['name']} (sm_{here['compute_capability'].replace('.', '')})")
        built_trt = sidecar["versions"]["tensorrt"]
        if machine.tensorrt and built_trt != machine.tensorrt:
            found.append(f"built with TensorRT {built_trt}, installed is {machine.tensorrt}")
    parity = sidecar["parity"]
    if not parity["passed"]:
        found.append(f"its parity check failed (max abs error {parity.get('max_abs_error')} > "
                     f"{parity.get('tolerance')})")
    if artifact is not None:
        artifact = Path(artifact)
        if not artifact.is_file():
            found.append("the file is missing")
        else:
            try:
                changed = sha256_file(artifact) != sidecar["artifact_sha256"]
            except OSError as error:
                found.append(f"the file cannot be read ({error.strerror or error})")
            else:
                if changed:
                    found.append("the file changed since it was built (sha256 differs from its sidecar)")
    return found


def check_artifact(artifact: str | Path, machine: Machine, *, weights_sha256: str | None = None,
                   size: tuple[int, int] | None = None, batch: int | None = None) -> dict:
    """The sidecar of an artifact that can be used here; LivestyleError naming every problem otherwise."""
    artifact = Path(artifact)
    if not artifact.is_file():
        raise LivestyleError(f"engine file not found: {artifact} (build one with {REBUILD})")
    sidecar = read_sidecar(artifact)
    found = problems(sidecar, machine, weights_sha256=weights_sha256, size=size, artifact=artifact, batch=batch)
    if found:
        raise LivestyleError(f"{artifact}: {'; '.join(found)} — rebuild it with {REBUILD}")
    return sidecar


def warn(message: str) -> None:
    say(f"livestyle: warning: {message}")


def find_artifacts(engines_dir: str | Path, fmt: str, refused: list[str] | None = None) -> list[tuple[Path, dict]]:
    """(artifact, sidecar) for every good sidecar of this format in the folder, newest first. A bad
    sidecar is skipped with its one line: added to `refused` where given, else warned on stderr."""
    engines_dir = Path(engines_dir)
    found = []
    for path in engines_dir.glob(f"*{SUFFIX[fmt]}.json"):
        artifact = path.with_name(path.name[: -len(".json")])
        try:
            sidecar = read_sidecar(artifact)
            modified = path.stat().st_mtime
        except LivestyleError as error:
            (refused.append if refused is not None else warn)(f"skipping {artifact.name}: {error}")
            continue
        except OSError:  # vanished or unreadable meanwhile: nothing to choose
            continue
        if sidecar["format"] == fmt:
            found.append((modified, artifact, sidecar))
    return [(artifact, sidecar) for _, artifact, sidecar in sorted(found, key=lambda item: item[0], reverse=True)]


def select_artifact(engines_dir: str | Path, fmt: str, machine: Machine, *, weights_sha256: str,
                    size: tuple[int, int], batch: int = 1) -> tuple[Path | None, list[str]]:
    """The newest usable artifact for these weights and size, or None and why each candidate was
    refused (bad sidecars included, by name)."""
    refused: list[str] = []
    other = 0
    for artifact, sidecar in find_artifacts(engines_dir, fmt, refused):
        if sidecar["weights"]["sha256"] != weights_sha256:
            other += 1  # another model's engine: counted, not listed
            continue
        found = problems(sidecar, machine, weights_sha256=weights_sha256, size=size, artifact=artifact, batch=batch)
        if not found:
            return artifact, refused
        refused.append(f"{artifact.name}: {'; '.join(found)}")
    if other:
        refused.append(f"{other} {fmt} file(s) built from other weights")
    return None, refused
