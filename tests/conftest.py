import importlib.util
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]


def load_build_engine():
    """scripts/build_engine.py's main(), imported from the file (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("build_engine_script", REPO / "scripts" / "build_engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main

# Tiny networks keep the suite within minutes on 2 cores; the code paths are the real ones.
# Tiny networks: the training loop's machinery (resume, DDP, time limits, ...) is tested on issue 16's
# pyramid recipe (the default since issue 25 is a film look, which has no network; tests/test_estimate.py).
TINY = ["--recipe", "pyramid", "--g-features", "8", "--d-features", "8", "--image-size", "32"]


def run_module(module: str, *args: str, cwd: Path | None = None, timeout: float = 300):
    import subprocess

    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def write_random_dataset(root: Path, size: int = 32, counts=(("train", 16), ("val", 4), ("test", 4))) -> Path:
    """An unpaired data set of noise images in the standard layout (no manifest)."""
    rng = np.random.default_rng(0)
    for split, count in counts:
        for domain in ("game", "movie"):
            folder = root / split / domain
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                cv2.imwrite(str(folder / f"{index:05d}.png"), image)
    return root


@pytest.fixture(scope="module")
def qapp(tmp_path_factory):
    """The QApplication (offscreen), with the app's settings in a fresh folder for each test module."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path_factory.mktemp("qsettings")))
    return QApplication.instance() or QApplication([])


@pytest.fixture
def private_cache_and_threads(tmp_path, monkeypatch):
    """Backend timings cached per test; the app's --threads setting (process-wide) undone afterwards."""
    import torch

    monkeypatch.setenv("LIVESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(threads)
    cv2.setNumThreads(cv_threads)


@pytest.fixture(scope="session")
def random_dataset(tmp_path_factory) -> Path:
    return write_random_dataset(tmp_path_factory.mktemp("random") / "data")


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """game2movie weights of a seeded 8-feature generator, in a run folder named faces-test."""
    import torch

    from livestyle.model.generator import Generator
    from livestyle.model.weights import save_generator

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("run") / "faces-test" / "game2movie.safetensors"
    path.parent.mkdir()
    save_generator(Generator(features=8).eval(), path, "game2movie")
    return path


@pytest.fixture(scope="session")
def synthetic_faces(tmp_path_factory) -> Path:
    from training.synth import write_dataset

    return write_dataset("faces", tmp_path_factory.mktemp("synth") / "faces", count=20,
                         image_size=32, seed=0, progress=False)


@pytest.fixture
def small_disk(tmp_path):
    """make(size_kib, readonly=False) -> a folder on a tmpfs of that size: writes past it fail with a
    real ENOSPC, and a read-only one with a real EROFS. Needs root and the right to mount (CI runs as
    root, where chmod cannot make a folder read-only); skipped with the reason elsewhere."""
    import subprocess

    mounted = []

    def make(size_kib: int = 256, readonly: bool = False) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        options = f"size={size_kib}k" + (",ro" if readonly else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root and mount rights): {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
