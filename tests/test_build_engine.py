"""scripts/build_engine.py end to end with a tiny generator, its refusals, and the scripts that
measure inference (benchmark.py, gpu_check.py --checks inference --smoke)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from livestyle.core.errors import LivestyleError
from livestyle.core.files import sha256_file
from livestyle.model.generator import Generator
from livestyle.model.loaded import load_model
from livestyle.model.weights import save_generator
from livestyle.runtime.engines.build import build_onnx
from livestyle.runtime.engines.sidecars import sidecar_path
from livestyle.runtime.machine import probe
from livestyle.runtime.stylizer import Stylizer

REPO = Path(__file__).resolve().parents[1]
MACHINE = probe()
needs_ort = pytest.mark.skipif(MACHINE.onnxruntime is None,
                               reason="onnxruntime: not installed (pip install -e '.[onnx]')")


def script(name: str, *args, cwd=None, env=None):
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("run") / "game2movie.safetensors"
    save_generator(Generator(features=8), path, "game2movie")
    return path


@pytest.mark.slow
@needs_ort
def test_build_onnx_end_to_end(weights, tmp_path):
    out = tmp_path / "engines"
    result = script("build_engine.py", "--weights", weights, "--size", "64x48", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "format: onnx" in result.stdout and "max abs diff" in result.stdout
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 2 and files[0].endswith("64x48-fp32.onnx") and files[1] == files[0] + ".json", files
    onnx_file = out / files[0]
    sidecar = json.loads(sidecar_path(onnx_file).read_text())
    assert sidecar["format"] == "onnx" and sidecar["backend"] == "onnxruntime" and sidecar["precision"] == "fp32"
    assert sidecar["input"]["size"] == [64, 48] and sidecar["channel_order"] == "rgb"
    assert sidecar["weights"]["sha256"] == sha256_file(weights) and sidecar["artifact_sha256"] == sha256_file(onnx_file)
    assert sidecar["architecture"]["features"] == 8 and "gpu" in sidecar
    assert set(sidecar["versions"]) >= {"torch", "onnx", "onnxruntime", "tensorrt"} and sidecar["built_at"]
    assert sidecar["parity"]["passed"] and sidecar["parity"]["max_abs_error"] < 1e-3

    messages = []  # the runtime finds the built file by its sidecar instead of exporting in memory
    stylizer = Stylizer(weights, "onnxruntime", size=(64, 48), engines_dir=out, threads=1, log=messages.append)
    assert not any("in memory" in m for m in messages), messages
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    reference = Stylizer(weights, "torch-cpu", size=(64, 48), threads=1)(image)
    assert np.abs(stylizer(image).astype(int) - reference).max() <= 1


@needs_ort
def test_failed_parity_keeps_nothing(weights, tmp_path):
    with pytest.raises(LivestyleError, match="parity check failed.*not written"):
        build_onnx(load_model(weights), (64, 48), tmp_path, MACHINE, tolerance=-1.0, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_no_weights_says_to_train_first(tmp_path):
    result = script("build_engine.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "python -m training.fit faces --quick" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_newest_run_is_the_default(weights, tmp_path):
    run = tmp_path / "runs" / "faces-20261126-101500"
    run.mkdir(parents=True)
    (run / "game2movie.safetensors").write_bytes(weights.read_bytes())
    result = script("build_engine.py", "--size", "642x360", cwd=tmp_path)  # resolves the weights, then refuses the size
    assert result.returncode == 2 and "nearest: 640x360" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--size", "642x360"], "multiples of 8.*nearest: 640x360"),
    (["--format", "onnx", "--precision", "fp16"], "use fp32"),
])
def test_bad_options_are_one_line_errors(weights, tmp_path, args, message):
    result = script("build_engine.py", "--weights", weights, "--out", tmp_path, *args)
    assert result.returncode == 2
    import re

    assert re.search(message, result.stderr) and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(MACHINE.tensorrt is not None and MACHINE.gpu is not None, reason="TensorRT and CUDA are here")
def test_tensorrt_format_without_tensorrt_is_a_clear_error(weights, tmp_path):
    result = script("build_engine.py", "--weights", weights, "--format", "tensorrt", "--out", tmp_path)
    assert result.returncode == 2
    assert "--format tensorrt needs TensorRT and a CUDA GPU" in result.stderr and "--format onnx" in result.stderr


@pytest.mark.slow
def test_weights_of_another_kind_are_refused(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "model.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(other))
    result = script("build_engine.py", "--weights", other, "--out", tmp_path / "e")
    assert result.returncode == 2 and "not livestyle generator weights" in result.stderr
    result = script("build_engine.py", "--weights", tmp_path / "nope.safetensors", "--out", tmp_path / "e")
    assert result.returncode == 2 and "weights not found" in result.stderr


@pytest.mark.slow
def test_help_has_examples():
    result = script("build_engine.py", "--help")
    assert result.returncode == 0 and "--format tensorrt --precision fp16" in result.stdout


@pytest.mark.slow
def test_benchmark_runs_and_leaves_missing_backends_empty(tmp_path):
    result = script("benchmark.py", "--features", "8", "--sizes", "64x48", "--repeats", "2", "--threads", "1",
                    "--no-write", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    torch_cpu = next(row for row in rows if row.startswith("| torch-cpu | 64x48 |"))
    assert "GFLOP/s" in torch_cpu
    for row in rows[1:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2] or cells[6], row  # a number, or the reason it is empty


@pytest.mark.slow
def test_gpu_check_inference_smoke(tmp_path):
    result = script("gpu_check.py", "--checks", "inference", "--smoke", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "gpu_check.json").read_text())["inference"]
    assert set(report["sizes"]) == {"64x48", "96x64"}
    row = report["sizes"]["64x48"]
    assert row["fp32_eager"]["median_ms"] > 0 and row["parity"]["passed"]
    assert "| size | fp32 eager ms" in result.stdout


@pytest.mark.slow
def test_gpu_check_faces_smoke(tmp_path):
    result = script("gpu_check.py", "--checks", "faces", "--smoke", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "gpu_check.json").read_text())["faces"]["rows"]
    assert [(row["batch"], row["median_ms"] > 0) for row in rows] == [(1, True), (4, True)] * 2
    assert all(row["max_abs_levels"] <= 2 for row in rows)
    assert "| faces model | backend | batch" in result.stdout


@pytest.mark.slow
@needs_ort
def test_faces_model_builds_for_its_crops_in_batches(tmp_path):
    """A faces model's engine: its training size and faces mode's batch by default; the runtime uses it
    for batches and refuses it for single frames."""
    from livestyle.faces.crop import FACE_CROP, FACES_BATCH

    torch.manual_seed(0)
    weights = tmp_path / "faces" / "game2movie.safetensors"
    weights.parent.mkdir()
    save_generator(Generator(features=8), weights, "game2movie",
                   {"kind": "faces", "image_size": 32, "crop_rule": FACE_CROP.to_metadata()})
    out = tmp_path / "engines"
    result = script("build_engine.py", "--weights", weights, "--out", out, "--parity-inputs", "1")
    assert result.returncode == 0, result.stderr
    assert "a faces model: face crops at 32x32, 4 per pass" in result.stdout
    (engine,) = out.glob("*.onnx")
    assert engine.name.endswith(f"32x32-b{FACES_BATCH}-fp32.onnx")
    sidecar = json.loads(sidecar_path(engine).read_text())
    assert sidecar["input"]["batch"] == FACES_BATCH and sidecar["input"]["shape"] == [FACES_BATCH, 3, 32, 32]
    assert sidecar["kind"] == "faces" and sidecar["image_size"] == 32
    assert sidecar["crop_rule"] == FACE_CROP.to_metadata()

    stylizer = Stylizer(weights, "onnxruntime", engine=engine, threads=1)
    assert stylizer.backend.batch == FACES_BATCH and stylizer.size == (32, 32)
    crops = [np.full((40 + i, 40 + i, 3), 20 * i, np.uint8) for i in range(6)]  # two passes
    reference = Stylizer(weights, "torch-cpu", size=(32, 32), threads=1)
    for crop, styled in zip(crops, stylizer.stylize_batch(crops), strict=False):
        assert styled.shape == (32, 32, 3)
        assert np.abs(styled.astype(int) - reference(crop)).max() <= 2
    with pytest.raises(LivestyleError, match="built for batches of 4, not 1"):
        Stylizer(weights, "onnxruntime", engine=engine, threads=1, batch=1)
