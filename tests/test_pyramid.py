"""The Laplacian-pyramid generator: exact filters, an untrained model that returns its input at any
size, weights that say what they are, and the same numbers on every CPU runtime path."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from livestyle.model import pyramid
from livestyle.model.generator import Generator, make_pyramid
from livestyle.model.loaded import load_model
from livestyle.model.pyramid import PyramidGenerator
from livestyle.model.weights import load_generator, read_metadata, save_generator
from livestyle.runtime.engines.build import build_onnx
from livestyle.runtime.machine import probe
from livestyle.runtime.stylizer import Stylizer

GAUSSIAN = (torch.outer(torch.tensor([1.0, 4, 6, 4, 1]), torch.tensor([1.0, 4, 6, 4, 1])) / 256).expand(3, 1, 5, 5)


@pytest.mark.parametrize("height,width", [(7, 9), (10, 12), (33, 64), (3, 5)])
def test_filters_are_the_5x5_gaussian_as_convolutions(height, width):
    x = torch.randn(1, 3, height, width)
    mode = "reflect" if min(height, width) > 2 else "replicate"
    expected_down = F.conv2d(F.pad(x, (2, 2, 2, 2), mode=mode), GAUSSIAN, stride=2, groups=3)
    small = pyramid.down(x)
    assert small.shape[-2:] == ((height + 1) // 2, (width + 1) // 2)
    assert torch.allclose(small, expected_down, atol=1e-6)
    expected_up = F.conv_transpose2d(F.pad(small, (1, 1, 1, 1), mode="replicate"), GAUSSIAN * 4, stride=2,
                                     groups=3)[..., 4:4 + height, 4:4 + width]
    assert torch.allclose(pyramid.up(small, (height, width)), expected_up, atol=1e-6)


def test_a_flat_image_stays_flat_to_the_edge():
    flat = torch.full((1, 3, 11, 13), 0.25)
    assert torch.allclose(pyramid.up(pyramid.down(flat), (11, 13)), flat, atol=1e-6)


def game_like(height: int, width: int) -> torch.Tensor:
    """Noise with saturated corners (black and white areas, common in games)."""
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height * width)) * 2 - 1
    x[..., :20, :20] = 1
    x[..., -20:, -20:] = -1
    return x


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("width,height", [(640, 360), (1280, 720), (1920, 1080), (641, 363), (17, 16)])
def test_untrained_pyramid_returns_its_input(levels, width, height):
    generator = make_pyramid(features=4, upsample="resize", levels=levels, band_features=4).eval()
    x = game_like(height, width)
    with torch.no_grad():
        y = generator(x)
    assert y.shape == x.shape
    assert (y - x).abs().max().item() <= 1 / 255  # in [-1, 1]: half a grey level


def trained_like(levels: int = 2, features: int = 4) -> PyramidGenerator:
    """A pyramid whose adjusting layers are not at zero (as after training): parity checks see them."""
    generator = make_pyramid(features=features, upsample="resize", levels=levels, band_features=4)
    with torch.no_grad():
        for gain in generator.gains:
            gain.net[-1].weight.normal_(0, 0.05)
            gain.net[-1].bias.normal_(0, 0.05)
        last = generator.low.up1[-1]
        last.weight.normal_(0, 0.05)
        generator.detail.normal_(0, 0.05)
    return generator.eval()


def test_a_trained_pyramid_changes_colour_but_keeps_the_shape_and_range():
    x = game_like(90, 160)
    with torch.no_grad():
        y = trained_like()(x)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert (y - x).abs().mean() > 1e-3


def test_weights_say_what_they_are_and_any_size_is_allowed(tmp_path):
    generator = trained_like(levels=3)
    path = tmp_path / "pyramid.safetensors"
    save_generator(generator, path, "game2movie")
    metadata = read_metadata(path)
    assert metadata["size_multiple"] == "1"
    loaded, _ = load_generator(path)
    assert isinstance(loaded, PyramidGenerator) and loaded.levels == 3
    x = game_like(37, 53)
    with torch.no_grad():
        assert torch.equal(loaded(x), generator(x))
    model = load_model(path)
    assert model.size_multiple == 1 and model.architecture["class"] == "PyramidGenerator"


def test_pyramid_weights_that_do_not_fit_are_refused(tmp_path):
    path = tmp_path / "pyramid.safetensors"
    generator = trained_like(levels=2)
    # Claim three levels for a file holding two: the header check names the missing tensor.
    architecture = {**generator.architecture(), "levels": 3}
    save_file({k: v.contiguous() for k, v in generator.state_dict().items()}, str(path),
              metadata={"format": "livestyle-generator/1", "architecture": json.dumps(architecture)})
    with pytest.raises(ValueError, match="PyramidGenerator.*levels=3.*missing"):
        load_generator(path)


def test_plain_weights_keep_the_multiple_of_8():
    assert load_model(Generator(4)).size_multiple == 8


@pytest.mark.slow
@pytest.mark.parametrize("size", [(640, 360), (1280, 720)])
def test_onnx_parity(size, tmp_path):
    model = load_model(trained_like(levels=2))
    artifact = build_onnx(model, size, tmp_path, probe(), parity_inputs=2, log=lambda message: None)
    assert artifact.is_file()


@pytest.mark.parametrize("backend", ["torch-cpu", "onnxruntime"])
def test_stylizer_runs_a_pyramid_at_an_odd_size(backend, tmp_path):
    generator = trained_like(levels=2)
    stylizer = Stylizer(generator, backend, size=(333, 187), engines_dir=tmp_path, log=lambda message: None)
    frame = np.random.default_rng(0).integers(0, 256, (200, 350, 3), dtype=np.uint8)
    out = stylizer(frame)
    assert out.shape == (187, 333, 3)
    reference = Stylizer(generator, "torch-cpu", size=(333, 187), engines_dir=tmp_path, log=lambda message: None)
    assert np.abs(out.astype(int) - reference(frame).astype(int)).max() <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch-cuda: no CUDA device")
@pytest.mark.parametrize("mode", ["graph", "compile"])
def test_torch_cuda_fp16_matches_torch_cpu(mode, tmp_path):
    generator = trained_like(levels=3)
    cpu = Stylizer(generator, "torch-cpu", size=(641, 361), threads=1)
    cuda = Stylizer(generator, "torch-cuda", size=(641, 361), cuda_mode=mode)
    frame = np.random.default_rng(1).integers(0, 256, (361, 641, 3), dtype=np.uint8)
    assert np.abs(cuda(frame).astype(int) - cpu(frame)).max() <= 8  # fp16


@pytest.mark.skipif(not torch.cuda.is_available() or probe().tensorrt is None,
                    reason="TensorRT needs the tensorrt package and a CUDA device")
def test_tensorrt_engine_of_a_pyramid(tmp_path):
    from livestyle.runtime.engines.build import build_tensorrt
    model = load_model(trained_like(levels=3))
    engine = build_tensorrt(model, (1280, 720), tmp_path, probe(), log=lambda message: None)
    assert engine.is_file()  # kept only when its parity with torch fp32 passed
