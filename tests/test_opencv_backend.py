"""--backend opencv (issue 25): a film look with OpenCV's table lookups and filters — the same picture as
torch-cpu on a real-looking frame (grain off: mean ≤ 0.5, max ≤ 3 levels of 255), at any size, timed by
auto like the others, and refused (one line) for a model that is not a look."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from livestyle.core.errors import LivestyleError
from livestyle.model.film import random_film
from livestyle.model.generator import Generator
from livestyle.model.look import random_look
from livestyle.model.weights import save_generator
from livestyle.runtime.backends.opencv_look import shrink
from livestyle.runtime.stylizer import Stylizer


def game_frame(height: int, width: int) -> np.ndarray:
    """Noise over the whole range, a flat patch, a bright lamp and a dark bar: RGB uint8."""
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(120, 60, (height, width, 3)), 0, 255).astype(np.uint8)
    frame[height // 4:height // 2, width // 5:width // 2] = (40, 160, 220)
    frame[height // 8:height // 8 + 6, 3 * width // 4:3 * width // 4 + 10] = 255
    frame[height // 2:, width // 2:width // 2 + 3] = 0
    return frame


@pytest.mark.parametrize("size", [(320, 180), (333, 187)])  # the pooling factor divides it, or not
@pytest.mark.parametrize("seed", [1, 2])
def test_opencv_gives_torch_cpus_picture(tmp_path, size, seed):
    path = tmp_path / "game2movie.safetensors"
    save_generator(random_film(seed, strength=0.7), path, "game2movie")
    frame = game_frame(size[1], size[0])
    pictures = [Stylizer(path, backend, size=size, threads=1)(frame).astype(int) for backend in ("torch-cpu", "opencv")]
    difference = np.abs(pictures[0] - pictures[1])
    assert difference.mean() <= 0.5 and difference.max() <= 3, (difference.mean(), difference.max())
    assert np.abs(pictures[0] - frame.astype(int)).mean() > 2


def test_a_colour_look_alone_runs_too_and_auto_times_opencv(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "game2movie.safetensors"
    save_generator(random_look(4, strength=0.5), path, "game2movie")
    frame = game_frame(90, 160)
    ours = Stylizer(path, "opencv", size=(160, 90), threads=1)(frame).astype(int)
    theirs = Stylizer(path, "torch-cpu", size=(160, 90), threads=1)(frame).astype(int)
    assert np.abs(ours - theirs).max() <= 3
    chosen = Stylizer(path, "auto", size=(160, 90), threads=1, cache_path=tmp_path / "cache.json")
    assert any(line.startswith("opencv: ") and "ms/frame" in line for line in chosen.report)


def test_a_network_is_refused_by_name_and_passed_over_by_auto(tmp_path):
    network = Generator(8).eval()
    with pytest.raises(LivestyleError, match="opencv: runs film looks only, and this model is a Generator"):
        Stylizer(network, "opencv", size=(64, 48), threads=1)
    chosen = Stylizer(network, "auto", size=(64, 48), threads=1, cache_path=tmp_path / "cache.json")
    assert "opencv: runs film looks only" in "\n".join(chosen.report) and chosen.name != "opencv"


def test_pooling_matches_torchs_partial_blocks():
    image = np.random.default_rng(1).random((7, 10, 3)).astype(np.float32)
    expected = torch.nn.functional.avg_pool2d(torch.from_numpy(image).permute(2, 0, 1)[None], 3, 3, ceil_mode=True,
                                              count_include_pad=False)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(shrink(image, 3), expected, atol=1e-6)
