"""Nothing lost, nothing trusted — the runtime's side: weights metadata, engine sidecars, the backend
cache, scripts/build_engine.py and `python -m livestyle doctor`, each fed bad input.

Every refusal is one error line (no traceback), a non-zero exit code, and no change on disk
outside the command's output; every write goes through a private temporary file, so links planted
under the names a writer might have used are never written through."""
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from _matrix import ENOSPC, EROFS, assert_refused, assert_unchanged, call, os_error, snapshot
from conftest import load_build_engine
from safetensors import safe_open
from safetensors.torch import save_file

import livestyle.model.generator
import livestyle.model.loaded
from livestyle.__main__ import main as livestyle_main
from livestyle.core import files
from livestyle.core.errors import LivestyleError
from livestyle.core.files import sha256_file
from livestyle.core.sizes import format_size, parse_size
from livestyle.model.generator import Generator
from livestyle.model.loaded import load_model
from livestyle.model.weights import load_generator, save_generator
from livestyle.runtime.engines.build import build_onnx
from livestyle.runtime.engines.sidecars import (
    artifact_name,
    check_artifact,
    find_artifacts,
    problems,
    select_artifact,
    sidecar_path,
)
from livestyle.runtime.machine import probe
from livestyle.runtime.stylizer import Stylizer
from livestyle.runtime.timing import choose, read_cache

REPO = Path(__file__).resolve().parents[1]
MACHINE = probe()
SIZE = (64, 48)
needs_ort = pytest.mark.skipif(MACHINE.onnxruntime is None,
                               reason="onnxruntime: not installed (pip install -e '.[onnx]')")


build_engine = load_build_engine()


def doctor(argv):
    return livestyle_main(["doctor", *argv])


@pytest.fixture(scope="module")
def good_weights(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "game2movie.safetensors"
    save_generator(Generator(features=8), path, "game2movie")
    return path


@pytest.fixture(scope="module")
def built(good_weights, tmp_path_factory) -> Path:
    """A real ONNX engine with its sidecar, built once; tests copy it before changing anything."""
    if MACHINE.onnxruntime is None:
        pytest.skip("onnxruntime: not installed")
    return build_onnx(load_model(good_weights), SIZE, tmp_path_factory.mktemp("built"), MACHINE, log=lambda m: None)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    # auto's timing cache must not land in ~/.cache (outside every snapshot) during these tests.
    monkeypatch.setenv("LIVESTYLE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


# ------------------------------------------------------------------------------------ weights metadata

def forge(path: Path, source: Path, *, architecture=None, metadata=None, tensors=None) -> Path:
    """A copy of `source` with its metadata or tensors replaced: what a damaged or foreign file looks like."""
    with safe_open(str(source), "pt") as handle:
        meta = dict(handle.metadata())
        state = {name: handle.get_tensor(name) for name in handle.keys()}
    if architecture is not None:
        meta["architecture"] = architecture if isinstance(architecture, str) else json.dumps(architecture)
    meta.update(metadata or {})
    save_file(state if tensors is None else tensors, str(path), metadata=meta)
    return path


def arch(**changes) -> dict:
    return {"class": "Generator", "features": 8, "upsample": "deconv", "residual": False, **changes}


def state_of(generator: torch.nn.Module) -> dict:
    return {name: tensor.contiguous() for name, tensor in generator.state_dict().items()}


BAD_WEIGHTS = {
    "features text": (dict(architecture=arch(features="abc")), "'architecture.features' should be a whole number"),
    "features huge": (dict(architecture=arch(features=10**9)),
                      "'architecture.features' is 1000000000, outside 1..1024"),
    "features negative": (dict(architecture=arch(features=-8)), "'architecture.features' is -8, outside"),
    "features bool": (dict(architecture=arch(features=True)), "'architecture.features' should be a whole number"),
    "architecture a list": (dict(architecture="[8, 16]"), "'architecture' should be a JSON object, not a list"),
    "architecture not json": (dict(architecture="features=8"), "'architecture' is not valid JSON"),
    "architecture missing": (dict(metadata={"architecture": "null"}), "'architecture' should be a JSON object"),
    "unknown class": (dict(architecture=arch(**{"class": "UNet"})), "'architecture.class' is 'UNet', not one of"),
    "unknown upsample": (dict(architecture=arch(upsample="pixelshuffle")), "'architecture.upsample' is 'pixelshuffle'"),
    "residual text": (dict(architecture=arch(residual="yes")), "'architecture.residual' should be true or false"),
    "direction a path": (dict(metadata={"direction": "../../etc/x"}), "field 'direction' is '../../etc/x'"),
    "not livestyle metadata": (dict(metadata={"format": "someone-else/3"}), "not livestyle generator weights"),
    "wider network's tensors": (dict(tensors=state_of(Generator(features=16))), "do not fit the architecture"),
    "metadata says wider": (dict(architecture=arch(features=16)), "do not fit the architecture"),
    "another layout": (dict(tensors={"conv.weight": torch.zeros(4, 3, 3, 3)}), "tensor(s) missing"),
    "resize tensors, deconv metadata": (dict(tensors=state_of(Generator(features=8, upsample="resize"))),
                                        "do not fit the architecture"),
    "whole-number tensors": (dict(tensors={k: v.to(torch.int32) for k, v in state_of(Generator(8)).items()}),
                             "not floating-point weights"),
    "all NaN": (dict(tensors={k: torch.full_like(v, float("nan")) for k, v in state_of(Generator(8)).items()}),
                "holds NaN or infinite values"),
    "one infinity": (dict(tensors={k: torch.full_like(v, float("inf")) if k.endswith("bias") else v
                                   for k, v in state_of(Generator(8)).items()}), "holds NaN or infinite values"),
    "size multiple 512": (dict(metadata={"size_multiple": "512"}), "field 'size_multiple' is '512'"),
    "faces side 8192": (dict(metadata={"kind": "faces", "image_size": "8192"}),
                        "field 'image_size' is '8192', not a face crop's side in pixels (1 to 1024)"),
}


@pytest.mark.parametrize("case", list(BAD_WEIGHTS))
def test_bad_weights_metadata_is_refused_before_building(case, good_weights, tmp_path, capsys, monkeypatch):
    changes, message = BAD_WEIGHTS[case]
    weights = forge(tmp_path / "game2movie.safetensors", good_weights, **changes)
    built_networks = []
    real_init = Generator.__init__

    def counting_init(self, *args, **kwargs):
        built_networks.append(torch.get_default_device())
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(livestyle.model.generator.Generator, "__init__", counting_init)
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", weights, "--out", tmp_path / "engines", "--format", "onnx"], capsys)
    assert_refused(code, err, "game2movie.safetensors", message)
    assert "training.fit" in err  # the fix
    assert_unchanged(before, snapshot(tmp_path))
    # Refused from the header alone: at most a shape-only (meta-device) network, never real memory.
    assert all(device.type == "meta" for device in built_networks), built_networks


def test_weights_that_fit_still_load_in_any_float_precision(good_weights, tmp_path):
    half = forge(tmp_path / "half.safetensors", good_weights,
                 tensors={k: v.half() for k, v in state_of(load_generator(good_weights)[0]).items()})
    generator, _ = load_generator(half)
    assert generator.features == 8 and next(generator.parameters()).dtype == torch.float32


@pytest.mark.parametrize("name, content, message", [
    ("last.pt", b"\x80\x04\x95 a pickle", "never unpickles"),
    ("game2movie.safetensors", b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00 a pickle renamed",
     "not a readable .safetensors"),
    ("game2movie.safetensors", b"", "not a readable .safetensors"),
])
def test_pickles_and_garbage_passed_as_weights_are_refused(name, content, message, tmp_path, capsys):
    weights = tmp_path / name
    weights.write_bytes(content)
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", weights, "--out", tmp_path / "engines"], capsys)
    assert_refused(code, err, name, message)
    assert_unchanged(before, snapshot(tmp_path))


@pytest.mark.parametrize("argv, message", [
    (["--model", "{tmp}/missing.safetensors"], "weights not found"),
    (["--model", "{tmp}/garbage.safetensors"], "not a readable .safetensors"),
    (["--model", "{tmp}/bad-arch.safetensors"], "'architecture.features' should be a whole number"),
    (["--model", "{good}", "--size", "65536x65536"], "at most 8192"),
    (["--threads", "0"], "out of range"),
])
def test_doctor_refuses_a_bad_model_with_a_nonzero_exit(argv, message, good_weights, tmp_path, capsys):
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 64)
    forge(tmp_path / "bad-arch.safetensors", good_weights, architecture=arch(features="abc"))
    before = snapshot(tmp_path)
    code, err = call(doctor, [a.format(tmp=tmp_path, good=good_weights) for a in argv], capsys)
    assert_refused(code, err, message)
    assert_unchanged(before, snapshot(tmp_path))


# ------------------------------------------------------------------------------------ engine sidecars

def copy_engine(built: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, folder / built.name)
    shutil.copy2(sidecar_path(built), sidecar_path(folder / built.name))
    return folder / built.name


def edit_sidecar(artifact: Path, change) -> None:
    path = sidecar_path(artifact)
    value = json.loads(path.read_text())
    result = change(value)
    path.write_text(result if isinstance(result, str) else json.dumps(value if result is None else result))


def without(key):
    return lambda sidecar: sidecar.pop(key) and None


def setting(*keys_and_value):
    *keys, value = keys_and_value

    def change(sidecar):
        target = sidecar
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


BAD_SIDECARS = {
    "valid JSON, a list": (lambda s: [s], "should be a JSON object, not a list"),
    "not JSON": (lambda s: "{'format': 'onnx'", "is not valid JSON"),
    "not a livestyle sidecar": (setting("sidecar_format", "other/1"), "not a livestyle engine sidecar"),
    "no artifact_sha256": (without("artifact_sha256"), "no artifact_sha256: cannot confirm the file is the one"),
    "artifact_sha256 a number": (setting("artifact_sha256", 12), "'artifact_sha256' should be text"),
    "input.size text": (setting("input", "size", "640x360"), "'input.size' should be a list, not text"),
    "input.size huge": (setting("input", "size", [65536, 65536]), "'input.size' should be [width, height]"),
    "input a list": (setting("input", [64, 48]), "'input' should be an object, not a list"),
    "parity text": (setting("parity", "yes"), "'parity' should be an object, not text"),
    "parity.passed text": (setting("parity", "passed", "yes"), "'parity.passed' should be true or false"),
    "weights.sha256 a number": (setting("weights", "sha256", 5), "'weights.sha256' should be text"),
    "gpu text": (setting("gpu", "H100"), "'gpu' should be an object or null, not text"),
    "versions null": (setting("versions", None), "'versions' should be an object, not null"),
    "format unknown": (setting("format", "tflite"), "'format' is 'tflite', not one of"),
    "precision unknown": (setting("precision", "int8"), "'precision' is 'int8', not one of"),
}


@needs_ort
@pytest.mark.parametrize("case", list(BAD_SIDECARS))
def test_bad_sidecar_is_one_line_and_never_a_crash(case, built, good_weights, tmp_path, capsys):
    change, message = BAD_SIDECARS[case]
    artifact = copy_engine(built, tmp_path / "engines")
    edit_sidecar(artifact, change)
    before = snapshot(tmp_path)
    with pytest.raises(LivestyleError) as refused:  # the engine asked for by name
        check_artifact(artifact, MACHINE, weights_sha256=sha256_file(good_weights), size=SIZE)
    text = str(refused.value)
    assert message in text and sidecar_path(artifact).name in text and "build_engine.py" in text
    assert "\n" not in text
    raw = json.loads(sidecar_path(artifact).read_text()) if case != "not JSON" else None
    if isinstance(raw, dict):  # the sidecar as a caller may already hold it: reasons, not TypeError
        assert any(message in line for line in problems(raw, MACHINE, size=SIZE, artifact=artifact))
    # Choosing among engines: the bad one is named and skipped, never fatal.
    chosen, reasons = select_artifact(tmp_path / "engines", "onnx", MACHINE,
                                      weights_sha256=sha256_file(good_weights), size=SIZE)
    assert chosen is None and any(artifact.name in r and message in r for r in reasons), reasons
    assert find_artifacts(tmp_path / "engines", "onnx") == []
    assert artifact.name in capsys.readouterr().err  # without a list to report into, a warning
    assert_unchanged(before, snapshot(tmp_path))


@needs_ort
def test_a_bad_sidecar_does_not_stop_choosing_another_engine(built, good_weights, tmp_path, capsys):
    engines = tmp_path / "engines"
    good = copy_engine(built, engines)
    bad = engines / ("zz-" + built.name)
    shutil.copy2(built, bad)
    shutil.copy2(sidecar_path(built), sidecar_path(bad))
    edit_sidecar(bad, setting("parity", "yes"))
    os.utime(sidecar_path(bad), (2e9, 2e9))  # the newest: looked at first
    chosen, reasons = select_artifact(engines, "onnx", MACHINE, weights_sha256=sha256_file(good_weights), size=SIZE)
    assert chosen == good and any(bad.name in r and "'parity'" in r for r in reasons), reasons
    stylizer = Stylizer(good_weights, "onnxruntime", size=SIZE, engines_dir=engines, threads=1, log=print)
    assert stylizer.backend.source == str(good)
    assert bad.name in capsys.readouterr().out  # the Stylizer's log names the skipped file


@needs_ort
def test_default_model_choice_skips_a_bad_sidecar_and_names_it(built, good_weights, tmp_path):
    from livestyle.runtime.selection import resolve_model

    engines, runs = tmp_path / "engines", tmp_path / "runs"
    bad = copy_engine(built, engines)
    edit_sidecar(bad, setting("input", "size", "640x360"))
    (runs / "faces-1").mkdir(parents=True)
    shutil.copy2(good_weights, runs / "faces-1" / "game2movie.safetensors")
    before = snapshot(tmp_path)
    messages = []
    choice = resolve_model(None, engines, runs, MACHINE, log=messages.append)
    assert choice.engine is None and choice.weights == runs / "faces-1" / "game2movie.safetensors"
    assert any(bad.name in m and "'input.size'" in m for m in messages), messages
    assert_unchanged(before, snapshot(tmp_path))


@needs_ort
def test_engine_changed_after_the_build_is_refused(built, good_weights, tmp_path):
    artifact = copy_engine(built, tmp_path / "engines")
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 1  # one bit: still a loadable ONNX file, just not the one that passed the parity check
    artifact.write_bytes(bytes(data))
    before = snapshot(tmp_path)
    with pytest.raises(LivestyleError, match=f"{artifact.name}: the file changed since it was built"):
        Stylizer(good_weights, "onnxruntime", engine=artifact, threads=1)
    chosen, reasons = select_artifact(tmp_path / "engines", "onnx", MACHINE,
                                      weights_sha256=sha256_file(good_weights), size=SIZE)
    assert chosen is None and any("file changed" in r for r in reasons)
    assert_unchanged(before, snapshot(tmp_path))


class HalfSize(torch.nn.Module):
    """A network that is no livestyle generator: it gives a picture half the size it is given."""

    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, 2)


@needs_ort
def test_an_engine_whose_output_has_another_shape_is_named_as_the_engine(built, good_weights, tmp_path, capsys):
    from livestyle.runtime.backends.onnx_runtime import export_onnx

    artifact = copy_engine(built, tmp_path / "engines")
    artifact.write_bytes(export_onnx(HalfSize(), SIZE))
    edit_sidecar(artifact, setting("artifact_sha256", sha256_file(artifact)))  # a consistent, foreign engine
    with pytest.raises(LivestyleError, match=f"{artifact.name}: its output .* not the \\[1, 3, 48, 64\\] float "
                                             f"picture a livestyle generator gives.*rebuild it"):
        Stylizer(good_weights, "onnxruntime", engine=artifact, threads=1)
    from _clips import scrolling_frames, write_clip

    from livestyle.video.__main__ import main as video_main

    clip = tmp_path / "clip.mp4"
    write_clip(clip, scrolling_frames(4, seed=0, size=SIZE))
    before = snapshot(tmp_path)
    code, err = call(video_main, [clip, tmp_path / "out.mp4", "--model", artifact, "--backend", "onnxruntime",
                                  "--quiet"], capsys)
    assert_refused(code, err, artifact.name, "its output", "rebuild it")
    assert code == 2
    assert_unchanged(before, snapshot(tmp_path))


def test_tensorrt_sidecar_without_gpu_or_version_is_refused(tmp_path):
    artifact = tmp_path / "game2movie.engine"
    artifact.write_bytes(b"plan")
    sidecar = {"sidecar_format": "livestyle-engine/1", "format": "tensorrt", "precision": "fp16",
               "artifact_sha256": sha256_file(artifact), "input": {"size": [64, 48]},
               "weights": {"sha256": "0" * 64}, "gpu": None, "versions": {"tensorrt": "10.9.0"},
               "parity": {"passed": True}}
    assert any("'gpu' is null" in line for line in problems(sidecar, MACHINE, artifact=artifact))
    sidecar["gpu"] = {"name": "NVIDIA H100", "compute_capability": 9.0}
    assert any("'gpu.compute_capability' should be text" in line for line in problems(sidecar, MACHINE))
    sidecar["gpu"]["compute_capability"] = "9.0"
    sidecar["versions"] = {}
    assert any("'versions.tensorrt' is missing" in line for line in problems(sidecar, MACHINE))


# ------------------------------------------------------------------------------------ auto's backend cache

@pytest.mark.parametrize("entry", [
    ["torch-cpu"],
    "fast",
    {"timings_ms": "fast", "candidates": ["torch-cpu"]},
    {"timings_ms": {"torch-cpu": "1.0"}, "candidates": ["torch-cpu"]},
    {"timings_ms": {"torch-cpu": float("nan")}, "candidates": ["torch-cpu"]},
    {"timings_ms": {"torch-cpu": -1}, "candidates": ["torch-cpu"]},
    {"timings_ms": {"warp-drive": 0.1}, "candidates": ["torch-cpu"]},
    {"timings_ms": {"torch-cpu": 1.0}, "candidates": "torch-cpu"},
    {"timings_ms": {"torch-cpu": 1.0}, "candidates": [["torch-cpu"]]},
    {"timings_ms": {"torch-cpu": 1.0}, "candidates": ["torch-cpu"], "measured": 5},
])
def test_cache_entries_of_the_wrong_shape_are_timed_again(entry, good_weights, tmp_path):
    model = load_model(good_weights)
    key = f"{model.sha256} {format_size(SIZE)} {MACHINE.device_key} threads=1"
    cache = tmp_path / "backends.json"
    cache.write_text(json.dumps({key: entry, "someone else's": [1, 2]}))
    backend, report = choose(model, SIZE, MACHINE, engines_dir=tmp_path, threads=1, cache_path=cache,
                             log=lambda m: None, candidates=("torch-cpu",))
    assert backend.name == "torch-cpu" and not any("cached, " in line for line in report), report
    rewritten = read_cache(cache)[key]
    assert rewritten["candidates"] == ["torch-cpu"] and rewritten["timings_ms"]["torch-cpu"] > 0


@pytest.mark.parametrize("content", [b"[1, 2, 3]", b"{not json", b"\xff\xfe", b""])
def test_a_damaged_cache_file_is_an_empty_cache(content, tmp_path):
    path = tmp_path / "backends.json"
    path.write_bytes(content)
    assert read_cache(path) == {}


def test_cache_write_goes_through_a_private_file(good_weights, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    cache = tmp_path / "backends.json"
    (tmp_path / ".backends.json.tmp").symlink_to(victim)  # the name the old writer used
    choose(load_model(good_weights), SIZE, MACHINE, engines_dir=tmp_path, threads=1, cache_path=cache,
           log=lambda m: None, candidates=("torch-cpu",))
    assert victim.read_text() == "keep me" and read_cache(cache)


# ------------------------------------------------------------------------------------ build_engine options

@pytest.mark.parametrize("argv, fragments", [
    (["--parity-inputs", "0"], ["--parity-inputs", "0 is out of range", "from 1 to 1000"]),
    (["--parity-inputs", "1001"], ["--parity-inputs", "out of range"]),
    (["--parity-inputs", "lots"], ["--parity-inputs", "not a whole number"]),
    (["--tolerance", "nan"], ["--tolerance", "finite"]),
    (["--tolerance", "inf"], ["--tolerance", "finite"]),
    (["--tolerance", "0"], ["--tolerance", "above 0"]),
    (["--tolerance=-1e-3"], ["--tolerance", "above 0"]),
    (["--size", "65536x65536"], ["--size 65536x65536", "at most 8192"]),
    (["--size", "9" * 5000 + "x360"], ["--size", "at most 8192"]),
    (["--size", "8200x360"], ["--size 8200x360", "at most 8192"]),
])
def test_bad_build_options_are_refused_before_any_work(argv, fragments, good_weights, tmp_path, capsys):
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", good_weights, "--out", tmp_path / "engines", *argv], capsys)
    assert_refused(code, err, *fragments)
    assert_unchanged(before, snapshot(tmp_path))


def test_size_bound_applies_to_every_command():
    with pytest.raises(LivestyleError, match="--size 65536x65536: width and height must be at most 8192"):
        parse_size("65536x65536", "--size")
    assert parse_size("8192x8192") == (8192, 8192)


def test_out_that_is_a_file_is_refused(good_weights, tmp_path, capsys):
    out = tmp_path / "engines"
    out.write_text("not a folder")
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", good_weights, "--out", out], capsys)
    assert_refused(code, err, f"--out {out} is a file, not a folder")
    assert_unchanged(before, snapshot(tmp_path))


def test_out_that_is_the_weights_file_is_refused(good_weights, tmp_path, capsys):
    weights = tmp_path / "game2movie.safetensors"
    shutil.copy2(good_weights, weights)
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", weights, "--out", weights], capsys)
    assert_refused(code, err, "--out", "is --weights", "never writes over its input")
    assert_unchanged(before, snapshot(tmp_path))


def test_engine_output_never_overwrites_the_weights(good_weights, tmp_path, capsys):
    weights = tmp_path / "game2movie.safetensors"
    shutil.copy2(good_weights, weights)
    engines = tmp_path / "engines"
    engines.mkdir()
    final = engines / artifact_name("game2movie", sha256_file(weights), SIZE, "fp32", "onnx")
    final.symlink_to(weights)  # a link where the engine goes would make os.replace's target the weights' name
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", weights, "--out", engines, "--size", "64x48", "--format", "onnx"],
                     capsys)
    assert_refused(code, err, "the engine", "is --weights", "never writes over its input")
    assert_unchanged(before, snapshot(tmp_path))


def refuse_temporary_files(monkeypatch, under: Path, code: int):
    """mkstemp under `under` fails as the kernel would (root ignores chmod, so a real read-only
    folder needs a mount; this runs everywhere)."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(under.resolve()):
            raise os_error(code, str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)


def test_out_on_a_read_only_disk_is_refused_before_loading(good_weights, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ro"
    out.mkdir()
    refuse_temporary_files(monkeypatch, out, EROFS)
    loaded = []
    monkeypatch.setattr(livestyle.model.loaded, "load_weights", lambda *a, **k: loaded.append(a))
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", good_weights, "--out", out / "engines"], capsys)
    assert_refused(code, err, "--out", "read-only")
    assert not loaded  # checked before the weights were even read
    assert_unchanged(before, snapshot(tmp_path))


def test_out_on_a_real_read_only_disk(good_weights, tmp_path, capsys, small_disk):
    out = small_disk(64, readonly=True)
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", good_weights, "--out", out], capsys)
    assert_refused(code, err, "--out", "read-only")
    assert_unchanged(before, snapshot(tmp_path))


@needs_ort
def test_out_on_a_full_disk_leaves_nothing(good_weights, tmp_path, capsys, small_disk):
    out = small_disk(64)  # the tiny network's ONNX file is several times this
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", good_weights, "--out", out, "--size", "64x48", "--format", "onnx"],
                     capsys)
    assert_refused(code, err, str(out), "the disk is full")
    assert list(out.iterdir()) == []
    assert_unchanged(before, snapshot(tmp_path))


@needs_ort
@pytest.mark.parametrize("failing", ["sidecar", "engine"])
def test_a_write_failing_at_the_end_leaves_neither_file(failing, good_weights, tmp_path, capsys, monkeypatch):
    """fsync reports ENOSPC (delayed allocation, network disks): first on the sidecar, or on the
    engine after its sidecar is already in place."""
    real_fsync = os.fsync

    def fsync(fd):
        name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else ""
        if name.endswith(".partial.json" if failing == "sidecar" else ".partial.onnx"):
            raise os_error(ENOSPC)
        return real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    engines = tmp_path / "engines"
    engines.mkdir()
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", good_weights, "--out", engines, "--size", "64x48",
                                    "--format", "onnx"], capsys)
    assert_refused(code, err, "the disk is full")
    assert list(engines.iterdir()) == []
    assert_unchanged(before, snapshot(tmp_path))


@needs_ort
def test_failed_parity_through_the_command_leaves_nothing(good_weights, tmp_path, capsys, monkeypatch):
    import livestyle.runtime.engines.build

    real = livestyle.runtime.engines.build.measure_parity

    def failing(*args, **kwargs):
        return {**real(*args, **kwargs), "max_abs_error": 1.0, "passed": False}

    monkeypatch.setattr(livestyle.runtime.engines.build, "measure_parity", failing)
    engines = tmp_path / "engines"
    engines.mkdir()
    before = snapshot(tmp_path)
    code, err = call(build_engine, ["--weights", good_weights, "--out", engines, "--size", "64x48",
                                    "--format", "onnx"], capsys)
    assert_refused(code, err, "parity check failed", "was not written")
    assert list(engines.iterdir()) == []
    assert_unchanged(before, snapshot(tmp_path))


# ------------------------------------------------------------------------------------ planted links

def plant(folder: Path, names: list[str], victim: Path) -> None:
    for name in names:
        (folder / name).symlink_to(victim)


@needs_ort
def test_build_does_not_write_through_links_at_guessable_temporary_names(good_weights, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    engines = tmp_path / "engines"
    engines.mkdir()
    final = artifact_name("game2movie", sha256_file(good_weights), SIZE, "fp32", "onnx")
    stem = Path(final).stem
    plant(engines, [f".{final}.tmp", f".{final}.json.tmp", f".{stem}.partial.onnx", f".{final}.partial.json",
                    f"{final}.tmp"], victim)
    code, err = call(build_engine, ["--weights", good_weights, "--out", engines, "--size", "64x48",
                                    "--format", "onnx"], capsys)
    assert code == 0, err
    assert victim.read_text() == "keep me"
    assert all((engines / name).is_symlink() for name in [f".{final}.tmp", f".{stem}.partial.onnx"])
    assert (engines / final).is_file() and not (engines / final).is_symlink()
    assert json.loads(sidecar_path(engines / final).read_text())["artifact_sha256"] == sha256_file(engines / final)


def test_save_generator_does_not_write_through_links(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "game2movie.safetensors"
    plant(tmp_path, [".game2movie.safetensors.tmp", ".game2movie.partial.safetensors"], victim)
    save_generator(Generator(features=8), target, "game2movie")
    assert victim.read_text() == "keep me"
    assert load_generator(target)[0].features == 8
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".") and not p.is_symlink())
    assert leftovers == []


def test_save_generator_on_a_full_disk_keeps_the_old_weights(tmp_path, monkeypatch):
    target = tmp_path / "game2movie.safetensors"
    save_generator(Generator(features=8), target, "game2movie")
    before = snapshot(tmp_path)
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(os_error(ENOSPC)))
    with pytest.raises(LivestyleError, match="game2movie.safetensors: the disk is full"):
        save_generator(Generator(features=16), target, "game2movie")
    assert_unchanged(before, snapshot(tmp_path))


@needs_ort
def test_a_size_an_engine_cannot_honour_is_said_so(built, tmp_path, caplog):
    from _clips import scrolling_frames, write_clip

    from livestyle.video.__main__ import main as video_main

    artifact = copy_engine(built, tmp_path / "engines")
    clip = tmp_path / "clip.mp4"
    write_clip(clip, scrolling_frames(4, seed=0, size=SIZE))
    with caplog.at_level("INFO", logger="livestyle"):
        code = video_main([str(clip), str(tmp_path / "out.mp4"), "--model", str(artifact), "--size", "128x96",
                           "--backend", "onnxruntime", "--threads", "1", "--quiet"])
    assert code == 0
    assert f"--size 128x96 cannot be honoured: {artifact.name} was built for 64x48" in caplog.text


@needs_ort
def test_an_engine_failing_mid_video_is_named_as_the_engine(built, good_weights, tmp_path, monkeypatch):
    from _clips import scrolling_frames, write_clip

    from livestyle.runtime.backends.onnx_runtime import OnnxRuntimeBackend
    from livestyle.video import stylize_video

    artifact = copy_engine(built, tmp_path / "engines")
    real_forward, calls = OnnxRuntimeBackend.forward, []

    def failing_forward(self):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code")
        return real_forward(self)

    monkeypatch.setattr(OnnxRuntimeBackend, "forward", failing_forward)
    clip = tmp_path / "clip.mp4"
    write_clip(clip, scrolling_frames(6, seed=0, size=SIZE))
    stylizer = Stylizer(good_weights, "onnxruntime", engine=artifact, threads=1)
    with pytest.raises(LivestyleError, match=f"frame 3 failed in the engine {artifact.name} on onnxruntime .*rebuild"):
        stylize_video(clip, tmp_path / "out.mp4", stylizer, progress=False)
    assert not (tmp_path / "out.mp4").exists()
