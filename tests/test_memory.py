"""Issue 26: memory is estimated before it is allocated; a job that cannot fit is one line naming the value,
the estimate and the limit — under a real address-space limit (RLIMIT_AS), in a real process."""
from __future__ import annotations

import resource
import subprocess
import sys

import pytest
from conftest import REPO

from livestyle.core.errors import LivestyleError
from livestyle.core.memory import check_memory, headroom
from livestyle.model.generator import Generator
from livestyle.model.memory import inference_bytes

LIMIT = 8 << 30  # 8 GiB of address space, as a small machine or a container's `ulimit -v` gives


def limited(argv: list, limit: int = LIMIT) -> subprocess.CompletedProcess:
    def set_limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, *map(str, argv)], cwd=REPO, capture_output=True, text=True,
                          preexec_fn=set_limit, timeout=300)


def test_the_estimate_grows_with_the_pixels_and_the_batch():
    generator = Generator(features=16).eval()
    small, large = inference_bytes(generator, (640, 360)), inference_bytes(generator, (1280, 720))
    assert 3.0 < (large - (64 << 20)) / (small - (64 << 20)) < 5.0
    assert inference_bytes(generator, (1280, 720), 4) > 3 * large - (256 << 20)


def test_more_than_is_left_is_refused_in_one_line_naming_value_estimate_and_limit():
    room = headroom()
    assert room is not None  # Linux: /proc/meminfo is there
    with pytest.raises(LivestyleError, match=r"--size 99999x99999 needs about .* GiB of memory, more than the .* of "):
        check_memory("--size 99999x99999", room[0] + (1 << 30), "choose a smaller --size")
    check_memory("--size 64x64", 1 << 20, "choose a smaller --size")


def test_evaluate_output_size_8192_under_an_8_gib_limit_is_one_line(tiny_weights, tmp_path):
    from training.oracle import default_out

    data = REPO / default_out("supertux", "teal-orange", "other-levels")
    if not (data / "manifest.json").is_file():
        from _clips import SMALL, make_recordings

        from training import oracle

        data = tmp_path / "oracle"
        oracle.build("toy", "teal-orange", "other-levels", data, make_recordings(tmp_path / "recordings"),
                     progress=False, minimum=SMALL)
    result = limited(["-m", "training.evaluate", "--weights", tiny_weights, "--data", data, "--output-size",
                      "8192x8192", "--device", "cpu"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: --output-size 8192x8192"), result.stderr
    assert "needs about" in lines[0] and "address-space limit (8.0 GiB" in lines[0], result.stderr


def test_a_size_too_large_for_the_machine_is_refused_before_running(tiny_weights, tmp_path):
    code = ("import torch; from livestyle.runtime.stylizer import Stylizer; from livestyle.model.generator import "
            "Generator; Stylizer(Generator(features=64).eval(), 'torch-cpu', size='8192x8192', log=print)")
    result = limited(["-c", code])
    assert "running in-memory Generator at 8192x8192 needs about" in result.stderr, result.stderr
    assert "MemoryError" not in result.stderr


def test_build_engine_refuses_a_size_and_batch_that_cannot_fit(tiny_weights, tmp_path):
    result = limited(["scripts/build_engine.py", "--weights", tiny_weights, "--format", "onnx", "--size", "8192x8192",
                      "--batch", "64", "--out", tmp_path / "engines"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: --size 8192x8192 --batch 64 needs about"), result.stderr
    assert not (tmp_path / "engines").exists() or not list((tmp_path / "engines").iterdir())
