"""The film look (issue 25): lens and film effects before the colour look — the identity at the start,
each effect doing what its name says, bounded for any parameters, an ONNX export of ops TensorRT takes,
and the same picture on every CPU path."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_look import TENSORRT_OPS, check_export

from livestyle.model.film import (
    BLOOM_RANGE,
    SOFT_RANGE,
    VIGNETTE_RANGE,
    FilmLook,
    binomial,
    random_film,
    reduction,
    shrink,
)
from livestyle.runtime.backends.onnx_runtime import export_onnx

# What the effects add, each in TensorRT's ONNX operator list too: pooling, replicate ("edge") padding,
# bilinear enlargement, the bloom threshold's sigmoid, and the shape constants of padding.
FILM_OPS = TENSORRT_OPS | {"AveragePool", "Pad", "Resize", "Sigmoid", "ConstantOfShape"}


def scene(height: int = 72, width: int = 128) -> torch.Tensor:
    """A grey frame with a bright lamp and a sharp dark bar: 1×3×H×W in [-1, 1]."""
    x = torch.full((1, 3, height, width), -0.2)
    x[..., height // 3:height // 3 + 6, width // 4:width // 4 + 6] = 1.0
    x[..., height // 2:, width // 2:width // 2 + 3] = -1.0
    return x


def with_only(**values: float) -> FilmLook:
    film = FilmLook()
    with torch.no_grad():
        for name, value in values.items():
            getattr(film, name).fill_(value)
    return film


@pytest.mark.parametrize("size", [(72, 128), (37, 61), (360, 640), (1, 1)])
def test_a_new_film_look_is_the_identity_at_any_size(size):
    x = torch.rand(2, 3, *size) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(FilmLook()(x), x, atol=1e-6)


def test_each_effect_does_what_its_name_says():
    x = scene()
    with torch.no_grad():
        vignetted = with_only(vignette=2.0)(x)
        corner, centre = (vignetted - x)[..., :4, :4].mean(), (vignetted - x)[..., 34:38, 62:66].mean()
        assert corner < -0.05 and abs(centre) < 0.01  # darker corners, the middle kept
        soft = with_only(soft_focus=2.0)(x)
        edge = lambda y: (y[..., 1:] - y[..., :-1]).pow(2).sum()  # noqa: E731  (energy: a blur keeps the total variation)
        assert edge(soft) < 0.7 * edge(x)  # softer edges
        sharp = with_only(soft_focus=-2.0)(x)
        assert edge(sharp) > edge(x)
        bloom = with_only(bloom_tint=2.0)(x)
        near, far = bloom[..., 22:26, 40:44] - x[..., 22:26, 40:44], bloom[..., 60:, :8] - x[..., 60:, :8]
        assert near.mean() > 0.05 and far.abs().max() < 0.01  # light around the lamp only


@pytest.mark.parametrize("seed", range(4))
def test_any_parameters_give_bounded_effects_and_a_valid_picture(seed):
    film = random_film(seed, strength=4.0)
    with torch.no_grad():
        assert film.soft_amount().abs() <= SOFT_RANGE and film.vignette_strength().abs() <= VIGNETTE_RANGE
        assert torch.all(film.tint().abs() <= BLOOM_RANGE) and 0.5 <= film.threshold() <= 0.95
        out = film(scene())
    assert out.shape == (1, 3, 72, 128) and out.min() >= -1 and out.max() <= 1
    settings = film.settings()
    assert set(settings) == {"soft_focus", "bloom_threshold", "bloom_tint", "vignette", "grain", "blur_lines"}
    json.dumps(settings)


def test_reduced_size_ops_are_plain_pooling_and_a_fixed_binomial():
    assert reduction(360) == 4 and reduction(720) == 8 and reduction(45) == 1
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).view(2, 3, 5, 7)
    pooled = shrink(x, 2)
    assert pooled.shape == (2, 3, 3, 4)
    assert pooled[0, 0, 0, 0] == x[0, 0, :2, :2].mean() and pooled[0, 0, 2, 3] == x[0, 0, 4, 6]  # partial block
    flat = torch.full((1, 1, 6, 6), 0.3)
    assert torch.allclose(binomial(flat), flat)  # weights sum to 1, edges replicated


def test_the_export_uses_only_ops_tensorrt_takes_and_matches_torch():
    check_export(random_film(3), scene(), FILM_OPS, atol=1e-4)


def test_a_saved_film_look_runs_on_every_cpu_path_alike_and_bakes_its_colour(tmp_path, capsys):
    """torch-cpu and ONNX Runtime on a real-looking frame (mean ≤ 0.5, max ≤ 3 levels of 255); --format cube
    bakes its colour part and writes the spatial settings into the sidecar."""
    pytest.importorskip("onnxruntime", reason="ONNX Runtime is the onnx extra")
    from conftest import load_build_engine

    from livestyle.model.weights import read_weights_info, save_generator
    from livestyle.runtime.stylizer import Stylizer

    path = tmp_path / "film" / "game2movie.safetensors"
    path.parent.mkdir()
    film = random_film(11, strength=0.7)
    save_generator(film, path, "game2movie")
    assert read_weights_info(path).architecture == {"class": "FilmLook", "curve_points": 16}
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(120, 60, (180, 320, 3)), 0, 255).astype(np.uint8)
    frame[40:120, 60:180] = (40, 160, 220)
    frame[20:30, 250:270] = 255
    pictures = [Stylizer(path, backend, size=(320, 180), threads=1)(frame).astype(int)
                for backend in ("torch-cpu", "onnxruntime")]
    difference = np.abs(pictures[0] - pictures[1])
    assert difference.mean() <= 0.5 and difference.max() <= 3
    assert np.abs(pictures[0] - frame.astype(int)).mean() > 2
    assert load_build_engine()(["--weights", str(path), "--format", "cube", "--out", str(tmp_path / "looks")]) == 0
    (sidecar,) = (tmp_path / "looks").glob("*.cube.json")
    assert json.loads(sidecar.read_text())["spatial"] == film.settings()


def test_look_plus_pyramid_starts_as_the_identity_exports_and_bakes_its_look(tmp_path):
    """look+pyramid: the report's GANimorph in its pyramid after a film look — the identity at the start,
    its ONNX export runs like torch, opencv refuses it (a network), --format cube bakes its look."""
    onnxruntime = pytest.importorskip("onnxruntime", reason="ONNX Runtime is the onnx extra")
    from conftest import load_build_engine

    from livestyle.core.errors import LivestyleError
    from livestyle.model.generator import LookPyramid
    from livestyle.model.weights import load_weights, save_generator
    from livestyle.runtime.stylizer import Stylizer

    model = LookPyramid(features=4, levels=2).eval()
    x = scene()
    with torch.no_grad():
        assert torch.allclose(model(x), x, atol=1e-5)
        model.look.load_state_dict(random_film(5, strength=0.6).state_dict())
        for parameter in model.pyramid.parameters():  # the network changes something too
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    path = tmp_path / "lp" / "game2movie.safetensors"
    path.parent.mkdir()
    save_generator(model, path, "game2movie")
    loaded, info = load_weights(path)
    assert info.architecture["class"] == "LookPyramid" and info.size_multiple == 1
    session = onnxruntime.InferenceSession(export_onnx(loaded, (128, 72)), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(ours, loaded(x).numpy(), atol=1e-4)
    with pytest.raises(LivestyleError, match="runs film looks only, and this model is a LookPyramid"):
        Stylizer(path, "opencv", size=(128, 72), threads=1)
    assert load_build_engine()(["--weights", str(path), "--format", "cube", "--out", str(tmp_path / "looks")]) == 0
    (sidecar,) = (tmp_path / "looks").glob("*.cube.json")
    assert json.loads(sidecar.read_text())["spatial"] == loaded.look.settings()
