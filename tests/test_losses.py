import pytest
import torch
from pytorch_msssim import ms_ssim

from training.losses import StructuralSimilarity, discriminator_loss, generator_adversarial


@pytest.mark.parametrize("size,window", [(64, 3), (128, 7)])
def test_ms_ssim_matches_the_library(size, window):
    torch.manual_seed(0)
    x = torch.rand(2, 3, size, size)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    structural = StructuralSimilarity(size)
    value, flat = structural(x, y)
    assert structural.multiscale and structural.window == window
    assert torch.allclose(value, ms_ssim(x, y, data_range=1.0, win_size=window, size_average=False), atol=1e-6)
    assert not flat.any()


def test_small_images_fall_back_to_single_scale():
    structural = StructuralSimilarity(32)
    assert not structural.multiscale
    x = torch.rand(1, 3, 32, 32)
    assert structural(x, x)[0].item() == pytest.approx(1.0, abs=1e-5)


def test_clamped_contrast_is_reported_as_flat():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64)
    value, flat = StructuralSimilarity(64)(x, 1 - x)  # anti-correlated: contrast terms < 0
    assert flat.item() and value.item() == 0


@pytest.mark.parametrize("kind", ["bce", "lsgan", "hinge"])
def test_gan_losses_prefer_the_right_answer(kind):
    confident_real, confident_fake = torch.full((1, 1, 4, 4), 3.0), torch.full((1, 1, 4, 4), -3.0)
    assert generator_adversarial(confident_real, kind) < generator_adversarial(confident_fake, kind)
    assert (discriminator_loss(confident_real, confident_fake, kind)
            < discriminator_loss(confident_fake, confident_real, kind))
