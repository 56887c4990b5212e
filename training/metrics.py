"""Image quality numbers shared by training, evaluation and the synthetic-data calibration.

All functions take float tensors N×3×H×W in [0, 1] (RGB) and return one value per image.
"""
from __future__ import annotations

import torch
from pytorch_msssim import ssim as _library_ssim


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


def uint8_to_unit(images) -> torch.Tensor:
    """N×H×W×3 uint8 (numpy or tensor) -> N×3×H×W float in [0, 1]."""
    tensor = torch.as_tensor(images)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    return tensor.permute(0, 3, 1, 2).float().div(255.0)
