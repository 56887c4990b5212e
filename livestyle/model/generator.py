"""The game↔movie generator: the report's shallow GANimorph.

Encoder (4×4 stride-2 convs 3→N→2N→4N), residual blocks whose second conv sees the block input
concatenated with the first conv's output (3 at 2N, 1 at 4N), a decoder of transposed convs with a
skip from the encoder's 2N level (2 blocks there), InstanceNorm(affine) + ReLU, tanh output.
About 5.6M parameters at N=64. Input and output are RGB in [-1, 1]; H and W divisible by 8.

`make_pyramid` wraps it, in its residual form, in a Laplacian pyramid (livestyle.model.pyramid): any H×W.

Weights travel as safetensors whose metadata holds the architecture (a plain Generator or a
PyramidGenerator around one), so the runtime can rebuild the network without importing `training`;
livestyle.model.weights writes, reads and checks them.
"""
from __future__ import annotations

import torch
from torch import nn

from livestyle.core.sizes import SIZE_MULTIPLE
from livestyle.model.film import FilmLook
from livestyle.model.look import ColourLook
from livestyle.model.pyramid import PyramidGenerator


def _norm_relu(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(channels, affine=True), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    """Two 3×3 convs; the second sees [block input, first conv output] (GANimorph's dense link)."""

    def __init__(self, channels: int):
        super().__init__()
        self.first = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"),
                                   *_norm_relu(channels))
        self.second = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1, padding_mode="reflect"),
                                    nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.second(torch.cat([x, self.first(x)], dim=1))


def _upsample(in_channels: int, out_channels: int, mode: str) -> nn.Module:
    if mode == "deconv":
        return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)
    # Resize-convolution (Odena et al.): no uneven kernel overlap, hence no checkerboard.
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode="reflect"))


class Generator(nn.Module):
    """`residual=True` predicts a change to the input instead of a new image: the output is
    tanh(atanh(x) + change) with the last layer zero-initialised, so training starts at
    "do nothing" and can only move away from it where the losses ask for it."""

    size_multiple = SIZE_MULTIPLE  # three stride-2 steps; saved in the weights' metadata

    def __init__(self, features: int = 64, upsample: str = "deconv", residual: bool = False):
        super().__init__()
        if upsample not in ("deconv", "resize"):
            raise ValueError(f"upsample must be 'deconv' or 'resize', not {upsample!r}")
        n = features
        self.features, self.upsample, self.residual = features, upsample, residual
        self.down1 = nn.Sequential(nn.Conv2d(3, n, 4, stride=2, padding=1), *_norm_relu(n))
        self.down2 = nn.Sequential(nn.Conv2d(n, 2 * n, 4, stride=2, padding=1), *_norm_relu(2 * n))
        self.blocks_2n = nn.Sequential(*[ResidualBlock(2 * n) for _ in range(3)])
        self.down3 = nn.Sequential(nn.Conv2d(2 * n, 4 * n, 4, stride=2, padding=1), *_norm_relu(4 * n))
        self.blocks_4n = ResidualBlock(4 * n)
        self.up3 = nn.Sequential(_upsample(4 * n, 2 * n, upsample), *_norm_relu(2 * n))
        self.fuse_skip = nn.Sequential(nn.Conv2d(4 * n, 2 * n, 3, padding=1, padding_mode="reflect"),
                                       *_norm_relu(2 * n))
        self.up_blocks_2n = nn.Sequential(ResidualBlock(2 * n), ResidualBlock(2 * n))
        self.up2 = nn.Sequential(_upsample(2 * n, n, upsample), *_norm_relu(n))
        self.up1 = _upsample(n, 3, upsample)
        if residual:
            last = [m for m in self.up1.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]
            nn.init.zeros_(last.weight)
            if last.bias is not None:
                nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.size_multiple or x.shape[-2] % self.size_multiple:
            raise ValueError(f"generator input H×W must be divisible by {self.size_multiple}, "
                             f"got {tuple(x.shape[-2:])}")
        skip = self.blocks_2n(self.down2(self.down1(x)))
        deep = self.blocks_4n(self.down3(skip))
        y = self.fuse_skip(torch.cat([self.up3(deep), skip], dim=1))
        y = self.up1(self.up2(self.up_blocks_2n(y)))
        if self.residual:
            # 0.999 keeps atanh finite for saturated pixels; atanh written out, as ONNX exporters lack it.
            x = x.clamp(-0.999, 0.999)
            return torch.tanh(0.5 * torch.log((1 + x) / (1 - x)) + y)
        return torch.tanh(y)

    def architecture(self) -> dict:
        return {"class": "Generator", "features": self.features, "upsample": self.upsample,
                "residual": self.residual}


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def make_pyramid(features: int = 64, upsample: str = "deconv", levels: int = 3,
                 band_features: int = 8) -> PyramidGenerator:
    """A Laplacian pyramid (livestyle.model.pyramid) around Generator(features, upsample, residual=True)."""
    return PyramidGenerator(Generator(features, upsample, residual=True), levels, band_features)


class LookPyramid(nn.Module):
    """A film look, then the report's GANimorph in its Laplacian pyramid as a residual on the look's picture
    (issue 25's look+pyramid): the look carries the grade, the network what a grade cannot express (a
    change of hue by region, texture). Both start as the identity, so the whole does too; any H×W."""

    size_multiple = 1

    def __init__(self, curve_points: int = 16, features: int = 16, upsample: str = "resize", levels: int = 2,
                 band_features: int = 8):
        super().__init__()
        self.look = FilmLook(curve_points)
        self.pyramid = make_pyramid(features, upsample, levels, band_features)

    @property
    def grain(self) -> torch.Tensor:
        return self.look.grain

    def architecture(self) -> dict:
        return {"class": "LookPyramid", "curve_points": self.look.colour.curve_points,
                **{k: v for k, v in self.pyramid.architecture().items() if k != "class"}}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pyramid(self.look(x))


Network = Generator | PyramidGenerator | ColourLook | FilmLook | LookPyramid  # what a weights file holds


def build_generator(architecture: dict) -> nn.Module:
    """The network a checked architecture describes: the plain Generator, a PyramidGenerator around it,
    a ColourLook, a FilmLook or a LookPyramid."""
    options = {k: v for k, v in architecture.items() if k != "class"}
    if architecture["class"] == "PyramidGenerator":
        return make_pyramid(**options)
    if architecture["class"] == "ColourLook":
        return ColourLook(**options)
    if architecture["class"] == "FilmLook":
        return FilmLook(**options)
    if architecture["class"] == "LookPyramid":
        return LookPyramid(**options)
    return Generator(**options)


