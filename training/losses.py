"""The report's losses: GAN (BCE, or LSGAN/hinge), 1 − MS-SSIM cycle loss, L1 identity loss."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim as library_ssim

_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
# pytorch-msssim's private per-scale SSIM: reused so that the clamped scales can be counted.
_per_scale_ssim = importlib.import_module("pytorch_msssim.ssim")._ssim
_gauss_window = importlib.import_module("pytorch_msssim.ssim")._fspecial_gauss_1d


@dataclass(frozen=True)
class GanLoss:
    """One GAN objective: the generator's term, and the discriminator's on real and on fake logits."""
    generator: Callable[[torch.Tensor], torch.Tensor]
    real: Callable[[torch.Tensor], torch.Tensor]
    fake: Callable[[torch.Tensor], torch.Tensor]


GAN = {
    "bce": GanLoss(generator=lambda logits: F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)),
                   real=lambda logits: F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)),
                   fake=lambda logits: F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))),
    "lsgan": GanLoss(generator=lambda logits: F.mse_loss(logits, torch.ones_like(logits)),
                     real=lambda logits: F.mse_loss(logits, torch.ones_like(logits)),
                     fake=lambda logits: F.mse_loss(logits, torch.zeros_like(logits))),
    "hinge": GanLoss(generator=lambda logits: -logits.mean(),
                     real=lambda logits: F.relu(1.0 - logits).mean(),
                     fake=lambda logits: F.relu(1.0 + logits).mean()),
}
GAN_LOSSES = tuple(GAN)


def _gan(kind: str) -> GanLoss:
    if kind not in GAN:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(GAN_LOSSES)}")
    return GAN[kind]


def generator_adversarial(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """How far the discriminator is from calling the fakes real."""
    return _gan(kind).generator(logits)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    loss = _gan(kind)
    return 0.5 * (loss.real(real_logits) + loss.fake(fake_logits))


@dataclass(frozen=True)
class IdentityTerm:
    """An identity loss: `same_domain` asks the step for each generator's output on its own target domain."""
    loss: Callable[[torch.Tensor, torch.Tensor, dict], torch.Tensor]
    same_domain: bool


IDENTITY_TERMS = {
    # The report: the output should keep the input's shape, L1(x, G(x)).
    "report": IdentityTerm(lambda game, movie, out: (game - out["fake_movie"]).abs().mean()
                           + (movie - out["fake_game"]).abs().mean(), same_domain=False),
    # CycleGAN: a generator fed an image already in its target domain should leave it alone, L1(y, G(y)).
    "cyclegan": IdentityTerm(lambda game, movie, out: (movie - out["same_movie"]).abs().mean()
                             + (game - out["same_game"]).abs().mean(), same_domain=True),
}


class StructuralSimilarity:
    """MS-SSIM as pytorch-msssim computes it, sized for the image.

    pytorch-msssim asserts side > (window − 1)·16, so the window shrinks with the image (7 at
    128 px, 3 at 64 px) and images under 48 px fall back to single-scale SSIM. Its relu clamps a
    scale's contrast term at zero, which leaves that image with no gradient; `flat` reports, per
    image, whether that happened.
    """

    def __init__(self, image_size: int):
        window = 11
        while window > 3 and image_size <= (window - 1) * 16:
            window -= 2
        self.multiscale = image_size > (window - 1) * 16
        odd_side = image_size if image_size % 2 else image_size - 1
        self.window = window if self.multiscale else min(11, odd_side)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image similarity and per-image 'clamped' flags for x, y in [0, 1] (fp32)."""
        x, y = x.float(), y.float()
        if not self.multiscale:
            value = library_ssim(x, y, data_range=1.0, win_size=self.window, size_average=False)
            return value, value <= 0
        window = _gauss_window(self.window, 1.5).repeat([x.shape[1], 1, 1, 1])
        weights = x.new_tensor(_MS_SSIM_WEIGHTS)
        terms, flat = [], torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for level in range(len(_MS_SSIM_WEIGHTS)):
            ssim_per_channel, contrast = _per_scale_ssim(x, y, data_range=1.0, win=window,
                                                          size_average=False)
            last = level == len(_MS_SSIM_WEIGHTS) - 1
            term = ssim_per_channel if last else contrast
            flat |= (term <= 0).any(dim=1)
            terms.append(torch.relu(term))
            if not last:
                padding = [s % 2 for s in x.shape[2:]]
                x = F.avg_pool2d(x, kernel_size=2, padding=padding)
                y = F.avg_pool2d(y, kernel_size=2, padding=padding)
        value = torch.prod(torch.stack(terms) ** weights.view(-1, 1, 1), dim=0).mean(1)
        return value, flat


def to_unit(images: torch.Tensor) -> torch.Tensor:
    return images.float().add(1.0).mul(0.5)
