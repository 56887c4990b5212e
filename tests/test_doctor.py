"""python -m livestyle doctor: what the machine offers and which backend auto picks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livestyle.model.generator import Generator, make_pyramid
from livestyle.model.weights import save_generator
from livestyle.runtime import doctor
from livestyle.runtime.machine import probe

REPO = Path(__file__).resolve().parents[1]


def run_livestyle(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "livestyle", *map(str, args)], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


@pytest.mark.slow
def test_doctor_lists_the_machine_and_backends():
    result = run_livestyle("doctor")
    assert result.returncode == 0, result.stderr
    for text in ("torch ", "TensorRT:", "ONNX Runtime:", "screen capture:", "PySide6:", "torch-cpu: available"):
        assert text in result.stdout, text


@pytest.mark.slow
def test_doctor_with_a_model_says_what_auto_picks(tmp_path):
    weights = tmp_path / "game2movie.safetensors"
    save_generator(Generator(features=8), weights, "game2movie")
    result = run_livestyle("doctor", "--model", weights, "--size", "64x48", "--threads", "1", "--engines", tmp_path,
                           env={"LIVESTYLE_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "  auto: " in result.stdout and "ms/frame" in result.stdout
    assert (tmp_path / "cache" / "backends.json").is_file()


@pytest.mark.slow
def test_doctor_times_a_pyramid_model_at_any_size(tmp_path):
    weights = tmp_path / "game2movie.safetensors"
    save_generator(make_pyramid(features=4, levels=2, band_features=4), weights, "game2movie")
    result = run_livestyle("doctor", "--model", weights, "--size", "65x47", "--threads", "1", "--engines", tmp_path,
                           env={"LIVESTYLE_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "model: a 2-level Laplacian pyramid around GANimorph N=4 (any inference size)" in result.stdout
    assert "auto for" in result.stdout and "at 65x47" in result.stdout and "  auto: " in result.stdout


@pytest.mark.slow
def test_doctor_bad_model_is_a_clear_error(tmp_path):
    result = run_livestyle("doctor", "--model", tmp_path / "missing.safetensors", "--size", "64x48")
    assert result.returncode == 2 and "weights not found" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_help_is_the_live_app_and_names_doctor():
    result = run_livestyle("--help")
    assert result.returncode == 0 and "--region" in result.stdout and "livestyle doctor" in result.stdout


def test_cpu_only_torch_beside_an_nvidia_gpu_gets_the_fix(monkeypatch):
    machine = probe()
    machine.gpu, machine.torch_cuda = None, None
    monkeypatch.setattr(doctor, "nvidia_smi", lambda: ("GPU 0: NVIDIA GeForce RTX 4090", "12.8"))
    lines = doctor.report(machine)
    assert any("pip install torch --index-url https://download.pytorch.org/whl/cu" in line for line in lines)


def test_wayland_gets_a_warning(monkeypatch):
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    assert any("Wayland" in line and "X11" in line for line in doctor.display_lines())
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.delenv("XDG_SESSION_TYPE")
    monkeypatch.delenv("DISPLAY", raising=False)
    assert any("needs a desktop session" in line for line in doctor.display_lines())
