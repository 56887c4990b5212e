"""scripts/benchmark_live.py end to end, briefly: its own Xvfb, one 3-second run of the app on torch-cpu with a
tiny model, and the printed table."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from devtools.xvfb import SKIP_REASON, have_xvfb
from livestyle.model.generator import Generator
from livestyle.model.weights import save_generator

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark_live.py"


@pytest.mark.slow
def test_benchmark_live_prints_a_row_per_run(tmp_path):
    if not have_xvfb():
        pytest.skip(SKIP_REASON)
    torch.manual_seed(0)
    weights = tmp_path / "game2movie.safetensors"
    save_generator(Generator(features=8).eval(), weights, "game2movie")
    result = subprocess.run([sys.executable, str(SCRIPT), "--no-write", "--seconds", "3", "--sizes", "64x48",
                             "--backends", "torch-cpu", "--model", str(weights),
                             "--screenshot", str(tmp_path / "shot.jpg")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    row = re.search(r"^\| torch-cpu \| 64x48 \| ([\d.]+) \|", result.stdout, re.M)
    assert row, result.stdout
    assert float(row.group(1)) > 0
    assert re.search(r"^\| capture only \(mss, in-process\) \| 960x540", result.stdout, re.M)
    import cv2
    shot = cv2.imread(str(tmp_path / "shot.jpg"))  # the content window and the app's, one picture
    assert shot is not None and shot.shape[1] >= 960 and shot.std() > 0
