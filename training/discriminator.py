"""The report's shallowed GANimorph discriminator (about 2.8M parameters at N=32).

Two 4×4 stride-2 convs (3→2N→4N), a 3×3 conv to 8N, dilated 3×3 convs (dilation 2, then 4; the
dilation-8 layer of GANimorph removed), the last dilated output concatenated with the
pre-dilation features, a 3×3 fusing conv and a 3×3 conv to one logit map (a patch verdict).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as with_spectral_norm


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, dilation: int = 1,
          norm: bool = True, spectral: bool = False) -> nn.Sequential:
    padding = dilation * (kernel - 1) // 2 if stride == 1 else (kernel - stride) // 2
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, dilation=dilation)
    layers: list[nn.Module] = [with_spectral_norm(conv) if spectral else conv]
    if norm:
        layers.append(nn.InstanceNorm2d(out_channels, affine=True))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    """`spectral_norm=True` bounds every conv's Lipschitz constant (Miyato et al. 2018), a common
    cure for a discriminator that wins too fast."""

    def __init__(self, features: int = 32, spectral_norm: bool = False):
        super().__init__()
        n, sn = features, spectral_norm
        self.features = features
        self.encode = nn.Sequential(_conv(3, 2 * n, 4, stride=2, norm=False, spectral=sn),
                                    _conv(2 * n, 4 * n, 4, stride=2, spectral=sn),
                                    _conv(4 * n, 8 * n, 3, spectral=sn))
        self.dilated = nn.Sequential(_conv(8 * n, 8 * n, 3, dilation=2, spectral=sn),
                                     _conv(8 * n, 8 * n, 3, dilation=4, spectral=sn))
        self.fuse = _conv(16 * n, 8 * n, 3, spectral=sn)
        logits = nn.Conv2d(8 * n, 1, 3, padding=1)
        self.logits = with_spectral_norm(logits) if sn else logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encode(x)
        return self.logits(self.fuse(torch.cat([self.dilated(features), features], dim=1)))
