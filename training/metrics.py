"""Image quality numbers shared by training, evaluation and the synthetic-data calibration:
SSIM, PSNR and `structure` (do the edges survive?).

All functions take float tensors N×3×H×W in [0, 1] (RGB) and return one value per image.
"""
from __future__ import annotations

import kornia
import torch
from pytorch_msssim import ssim as _library_ssim

# Rec. 709 luma: structure is measured on brightness, where a colour grade moves edges least.
_LUMA = (0.2126, 0.7152, 0.0722)


def ssim_window(image_side: int) -> int:
    """The standard 11-pixel window, shrunk (odd) for thumbnails smaller than it."""
    window = min(11, image_side if image_side % 2 == 1 else image_side - 1)
    return max(window, 3)


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Gaussian window, data range 1)."""
    side = min(prediction.shape[-2:])
    return _library_ssim(prediction.float(), target.float(), data_range=1.0,
                         win_size=ssim_window(side), size_average=False)


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for data range 1 (capped at 100 dB for identical images)."""
    mse = (prediction.float() - target.float()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-10))).clamp_max(100.0)


def gradient_magnitude(images: torch.Tensor) -> torch.Tensor:
    """N×3×H×W in [0, 1] -> N×1×H×W Sobel gradient magnitude of the luma (kornia)."""
    luma = (images.float() * images.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return kornia.filters.sobel(luma)


def structure(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image correlation of gradient magnitudes: does the prediction keep the target's edges
    where the target has them? 1 for the target itself, lower for a blurred copy (weaker edges) and
    for a copy with added noise (edges where the target has none), so noise cannot fake detail.
    Insensitive to colour grades that keep the edges (a correlation ignores gain and offset).
    A flat image against a textured one scores 0."""
    p = gradient_magnitude(prediction).flatten(1)
    t = gradient_magnitude(target).flatten(1)
    p, t = p - p.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    covariance = (p * t).sum(1)
    spread = (p.pow(2).sum(1) * t.pow(2).sum(1)).sqrt()
    return torch.where(spread > 1e-12, covariance / spread.clamp_min(1e-12), torch.zeros_like(spread))


def uint8_to_unit(images) -> torch.Tensor:
    """N×H×W×3 uint8 (numpy or tensor) -> N×3×H×W float in [0, 1]."""
    tensor = torch.as_tensor(images)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    return tensor.permute(0, 3, 1, 2).float().div(255.0)
