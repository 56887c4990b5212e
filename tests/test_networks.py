import pytest
import torch

from livestyle.core.errors import LivestyleError
from livestyle.model.generator import Generator, count_parameters
from livestyle.model.weights import load_generator, save_generator
from training.discriminator import Discriminator


def test_parameter_counts_match_the_report():
    assert abs(count_parameters(Generator(64)) - 5.6e6) <= 0.56e6
    assert abs(count_parameters(Generator(64, upsample="resize")) - 5.6e6) <= 0.56e6
    assert abs(count_parameters(Discriminator(32)) - 2.8e6) <= 0.28e6


@pytest.mark.parametrize("upsample", ["deconv", "resize"])
@pytest.mark.parametrize("height,width", [(16, 16), (32, 48), (72, 128)])
def test_generator_keeps_the_shape_and_range(upsample, height, width):
    generator = Generator(features=8, upsample=upsample)
    out = generator(torch.rand(1, 3, height, width) * 2 - 1)
    assert out.shape == (1, 3, height, width)
    assert out.min() >= -1 and out.max() <= 1


def test_generator_rejects_sizes_not_divisible_by_8():
    with pytest.raises(ValueError, match="divisible by 8"):
        Generator(features=8)(torch.zeros(1, 3, 30, 32))


def test_discriminator_gives_a_patch_map():
    logits = Discriminator(features=8)(torch.zeros(2, 3, 64, 64))
    assert logits.shape == (2, 1, 16, 16)


def test_weights_round_trip_with_metadata(tmp_path):
    generator = Generator(features=8, upsample="resize")
    path = tmp_path / "g.safetensors"
    save_generator(generator, path, "game2movie", {"epoch": 3})
    loaded, metadata = load_generator(path)
    assert metadata["channel_order"] == "rgb" and metadata["direction"] == "game2movie"
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(loaded(x), generator.eval()(x))


def test_loading_something_else_is_a_clear_error(tmp_path):
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bogus.safetensors.*not a readable"):  # WeightsError is a ValueError
        load_generator(bogus)
    with pytest.raises(LivestyleError, match="missing.safetensors.*training.fit"):
        load_generator(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("upsample", ["deconv", "resize"])
def test_residual_generator_starts_at_doing_nothing(upsample):
    x = torch.rand(2, 3, 16, 24) * 2 - 1
    assert torch.allclose(Generator(8, upsample, residual=True)(x), x.clamp(-0.999, 0.999), atol=1e-6)


def test_residual_flag_travels_in_the_weights(tmp_path):
    save_generator(Generator(8, residual=True), tmp_path / "g.safetensors", "game2movie")
    assert load_generator(tmp_path / "g.safetensors")[0].residual


def test_spectral_norm_discriminator_keeps_its_shape():
    plain, normalised = Discriminator(8), Discriminator(8, spectral_norm=True)
    x = torch.rand(1, 3, 32, 32)
    assert normalised(x).shape == plain(x).shape
    assert count_parameters(normalised) == count_parameters(plain)
