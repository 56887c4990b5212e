"""Issue 13 moved training's code around with behaviour unchanged; these hashes, recorded with the
code before that change, keep it so. One thread: torch's CPU reductions differ in the last bit
between thread counts."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training import fit, synth

REPO = Path(__file__).resolve().parents[1]
# A seeded 20-step `training.fit faces --quick` (4-feature networks, 32 px, batch 1, 24 synthetic images).
TWENTY_STEPS = "4cb4ef3308138a99a64df5f5815ee994dd256cf998f6a8bfa5ec750300d5690f"
# The same run's checkpoint, as the code before issue 13 wrote it, resumed for a second epoch.
RESUMED = "6d1dd9adba47479105089e3d2f8a51eb46baef644d8907b9d6d95befe71943c3"


def tensor_hash(path: Path) -> str:
    """Over the tensors only: the file's metadata names the run folder."""
    state, digest = load_file(path), hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the run's config names its data relatively: ckdata
    synth.write_dataset("faces", Path("ckdata"), count=24, image_size=32, seed=0, progress=False)
    return tmp_path


def test_twenty_seeded_steps_give_the_same_weights(data_here, one_thread):
    # The default recipe of that time, spelled out (issue 16 made the pyramid on crops the default).
    before_issue_16 = ["--architecture", "plain", "--no-crop", "--d-downsample", "0", "--ema", "0"]
    argv = ["faces", "--quick", "--data", "ckdata", "--g-features", "4", "--d-features", "4", "--image-size", "32",
            "--batch-size", "1", "--epochs", "1", "--no-eval", "--run-dir", "run", *before_issue_16]
    assert fit.main(argv) == 0
    assert tensor_hash(Path("run/game2movie.safetensors")) == TWENTY_STEPS


def test_a_checkpoint_from_before_the_change_resumes_to_the_same_weights(data_here, one_thread):
    shutil.copytree(REPO / "tests" / "data" / "run-before-issue-13", "run")
    assert fit.main(["faces", "--run-dir", "run", "--resume", "--epochs", "2", "--no-eval"]) == 0
    assert tensor_hash(Path("run/game2movie.safetensors")) == RESUMED
