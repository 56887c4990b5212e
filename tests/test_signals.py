"""Issue 26: Ctrl+C (SIGINT) and `kill` (SIGTERM) stop every long command alike: one line, exit 130, and the
partial output removed (data-set writers, build_engine) — run as real processes, stopped mid-work."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

SIGNALS = [signal.SIGINT, signal.SIGTERM]


def stop_midway(argv: list, watch: Path, pattern: str, which: signal.Signals, tmp_path: Path,
                timeout: float = 120) -> tuple[int, str]:
    """Start `python ARGV`, wait until a file or folder matching `pattern` appears in `watch` (the work is
    under way), send the signal; the exit status and stderr."""
    env = {**os.environ, "LIVESTYLE_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    # As from a terminal: a shell running this suite in the background starts its children with SIGINT ignored,
    # and Python keeps an ignored SIGINT ignored.
    process = subprocess.Popen([sys.executable, *map(str, argv)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    try:
        while not (watch.is_dir() and list(watch.glob(pattern))):
            if process.poll() is not None:
                pytest.fail(f"finished before it could be stopped: {process.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("the work never started")
            time.sleep(0.05)
        process.send_signal(which)
        _, error = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, error


def assert_stopped(code: int, error: str, *fragments: str) -> None:
    # A progress bar ends without a newline, so the line may follow it on the terminal's line: cut it off there.
    lines = [line[line.index("interrupted: "):] if "interrupted: " in line else line
             for line in error.replace("\r", "\n").splitlines()]
    lines = [line for line in lines if line.strip() and not re.search(r"\[\d+:\d\d", line)]  # tqdm's [00:03, …]
    assert code == 130, error
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and "Traceback" not in error, error
    for fragment in fragments:
        assert fragment in lines[0], error


@pytest.mark.parametrize("which", SIGNALS, ids=lambda s: s.name)
def test_synth_stopped_midway_leaves_nothing(which, tmp_path):
    out = tmp_path / "sets" / "faces"
    code, error = stop_midway(["-m", "training.synth", "faces", "--out", out, "--count", "5000", "--image-size", "64"],
                              tmp_path / "sets", ".faces.*.partial", which, tmp_path)
    assert_stopped(code, error, f"nothing was written to {out}")
    assert os.listdir(tmp_path / "sets") == []


@pytest.mark.slow
@pytest.mark.parametrize("which", SIGNALS, ids=lambda s: s.name)
def test_oracle_stopped_midway_leaves_nothing(which, tmp_path):
    out = tmp_path / "oracle"
    code, error = stop_midway(["-m", "training.oracle", "supertux", "--out", out], tmp_path, ".oracle.*.partial",
                              which, tmp_path)
    assert_stopped(code, error, f"nothing was written to {out}")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == []


@pytest.mark.parametrize("which", SIGNALS, ids=lambda s: s.name)
def test_build_engine_stopped_midway_leaves_nothing(which, tiny_weights, tmp_path):
    engines = tmp_path / "engines"
    engines.mkdir()
    (engines / "mine.txt").write_text("kept")
    code, error = stop_midway(["scripts/build_engine.py", "--weights", tiny_weights, "--format", "onnx", "--size",
                               "640x360", "--parity-inputs", "1000", "--out", engines], engines, ".*.partial*",
                              which, tmp_path)
    assert_stopped(code, error, f"no engine was written to {engines}")
    assert os.listdir(engines) == ["mine.txt"]


@pytest.mark.slow
@pytest.mark.parametrize("which", SIGNALS, ids=lambda s: s.name)
def test_prepare_stopped_midway_leaves_nothing(which, tmp_path):
    import cv2
    import numpy as np

    footage = tmp_path / "footage"
    footage.mkdir()
    rng = np.random.default_rng(0)
    for name in ("game", "movie"):  # long enough that decoding and drawing take seconds, not milliseconds
        writer = cv2.VideoWriter(str(footage / f"{name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
        for _ in range(600):
            writer.write(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
        writer.release()
    sets = tmp_path / "sets"
    sets.mkdir()
    out = sets / "mine"
    code, error = stop_midway(["-m", "training.prepare", "frames", "--game", footage / "game.avi", "--movie",
                               footage / "movie.avi", "--out", out, "--count", "500", "--image-size", "64"],
                              sets, ".mine.*.partial", which, tmp_path)
    assert_stopped(code, error, f"nothing was written to {out}")
    assert os.listdir(sets) == []
