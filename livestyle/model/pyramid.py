"""A Laplacian-pyramid generator around the report's GANimorph (after LPTN, Liang et al., CVPR 2021).

The frame is split into `levels` high-frequency bands and a low-frequency image at 1/2^levels of
its size with a fixed 5-tap Gaussian (Burt & Adelson's [1 4 6 4 1]/16). The unchanged GANimorph
`Generator`, in its residual form, translates the low-frequency image as a change to it: the look
(colour, tone) lives there, and the generator runs on 1/4^levels of the pixels. Each band below
full size is then scaled per pixel and channel by a gain map that a light network computes at
the next coarser level from the low frequencies there before and after translation; the
full-size band (edges, text, outlines) is scaled by one learned gain per channel, which keeps the
costliest level at one upsampling (a full-size gain map cost a third of the CPU time at 640×360).
The frame is rebuilt at full size from the adjusted bands. The game's detail travels in the
bands, so the model can change it only through those gains: it can soften or sharpen, not smear
or invent.

Every gain network ends in a zero-initialised convolution and the per-channel gains start at 1,
so an untrained PyramidGenerator returns its input (to within the residual generator's ±0.999
clamp: well under 1/255).

Any H×W works: a level halves with ceil and crops back after doubling; the low-frequency image is
padded (reflect) to the generator's multiple of 8 and cropped back. Input and output: RGB in
[-1, 1], NCHW.

The Gaussian filters are separable 5-tap convolutions written out as strided slices (a polyphase
form): the same numbers as a depthwise conv2d / conv_transpose2d with the 5×5 kernel (the tests
check it), but 5× faster on the CPU at 1280×720, where oneDNN's depthwise path for 3 channels is
slow; ONNX exports them as Slice/Add/Mul, which every runtime takes.
"""
from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

MAX_LEVELS = 6


def _pad(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Reflect where the image is large enough for it, else replicate (tiny images, deep levels)."""
    if max(left, right) < x.shape[-1] and max(top, bottom) < x.shape[-2]:
        return F.pad(x, (left, right, top, bottom), mode="reflect")
    return F.pad(x, (left, right, top, bottom), mode="replicate")


def _down_1d(x: torch.Tensor, dim: int) -> torch.Tensor:
    """[1 4 6 4 1]/16 along `dim` (already padded by 2 each side), every second output kept."""
    n = (int(x.shape[dim]) - 3) // 2  # = ceil(original / 2); int(): a constant in ONNX exports

    def tap(offset: int) -> torch.Tensor:
        return x.narrow(dim, offset, 2 * n - 1)[(slice(None),) * (dim % x.dim()) + (slice(None, None, 2),)]

    return (tap(0) + tap(4) + 4 * (tap(1) + tap(3)) + 6 * tap(2)) * (1 / 16)


def _up_1d(x: torch.Tensor, dim: int, length: int) -> torch.Tensor:
    """Zeros inserted between samples along `dim` (padded by 1 each side, replicate), then
    [1 4 6 4 1]/8: even outputs (x[i-1] + 6 x[i] + x[i+1]) / 8, odd ones (x[i] + x[i+1]) / 2;
    interleaved and cut to `length`."""
    n = int(x.shape[dim]) - 2
    even = (x.narrow(dim, 0, n) + x.narrow(dim, 2, n) + 6 * x.narrow(dim, 1, n)) * (1 / 8)
    odd = (x.narrow(dim, 1, n) + x.narrow(dim, 2, n)) * 0.5
    dim = dim % x.dim()
    return torch.stack([even, odd], dim=dim + 1).flatten(dim, dim + 1).narrow(dim, 0, length)


def down(x: torch.Tensor) -> torch.Tensor:
    """Gaussian blur, then every second pixel: H×W → ceil(H/2)×ceil(W/2)."""
    x = _pad(x, 2, 2, 2, 2)
    return _down_1d(_down_1d(x, -1), -2)


def up(x: torch.Tensor, size) -> torch.Tensor:
    """Zeros between pixels, Gaussian blur ×4 (what Laplacian pyramids use), cut to size (H, W);
    the one-pixel replicate border keeps a flat image flat to the edge."""
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return _up_1d(_up_1d(x, -1, int(size[1])), -2, int(size[0]))


class BandGain(nn.Module):
    """Gains for one band, computed at the next coarser level from [low frequencies there before,
    after translation]: two 3×3 convs (spatial context, few pixels). Zero-initialised last conv:
    gain 1."""

    def __init__(self, features: int):
        super().__init__()
        # Made in this order: each draws its initial weights from torch's generator, and a seeded run
        # must start where it always has.
        first = nn.Conv2d(6, features, 3, padding=1, padding_mode="replicate")
        last = nn.Conv2d(features, 3, 3, padding=1, padding_mode="replicate")
        self.net = nn.Sequential(first, nn.LeakyReLU(0.2, inplace=True), last)
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        # channels_last: oneDNN runs these few-channel convs 2-10× faster that way on the CPU; NCHW outside.
        both = torch.cat([before, after], dim=1)
        if torch.jit.is_tracing():  # ONNX export: layouts are the runtime's business (and confuse its shapes)
            return self.net(both)
        return self.net(both.contiguous(memory_format=torch.channels_last)).contiguous()


class LowNetwork(Protocol):
    """What the pyramid runs on its low-frequency image: the report's generator (livestyle.model.generator)."""
    size_multiple: int
    features: int
    upsample: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class PyramidGenerator(nn.Module):
    """`levels` Laplacian bands around `low`, the report's GANimorph in its residual form (it must
    start at "do nothing"; livestyle.model.generator.make_pyramid builds one). band_features: width of
    the gain networks. Any input size (size_multiple 1); RGB in [-1, 1] in and out."""

    size_multiple = 1

    def __init__(self, low: LowNetwork, levels: int = 3, band_features: int = 8):
        super().__init__()
        if not 1 <= levels <= MAX_LEVELS:
            raise ValueError(f"levels must be 1 to {MAX_LEVELS}, not {levels}")
        self.levels, self.band_features = levels, band_features
        self.low = low
        # Bands 1 … levels-1 (half size and smaller): gain maps from light networks.
        self.gains = nn.ModuleList(BandGain(band_features) for _ in range(levels - 1))
        # Band 0, the full-size detail (edges, text, outlines): one gain per channel, so that the
        # costliest level stays one upsampling and two elementwise passes (see forward).
        self.detail = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def translate_low(self, low: torch.Tensor) -> torch.Tensor:
        """The GANimorph on the low-frequency image, padded (reflect) to its multiple of 8 (and at
        least 16 a side) and cropped back."""
        height, width = (int(v) for v in low.shape[-2:])
        multiple = self.low.size_multiple
        pad_h = max(2 * multiple, -(-height // multiple) * multiple) - height
        pad_w = max(2 * multiple, -(-width // multiple) * multiple) - width
        if not (pad_h or pad_w):
            return self.low(low)
        top, left = pad_h // 2, pad_w // 2
        padded = _pad(low, left, pad_w - left, top, pad_h - top)
        return self.low(padded)[..., top:top + height, left:left + width]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gaussians = [x]
        for _ in range(self.levels):
            gaussians.append(down(gaussians[-1]))
        image = self.translate_low(gaussians[-1])
        for k in reversed(range(1, self.levels)):
            gain = self.gains[k - 1](gaussians[k + 1], image)
            # One upsampling for all three: up is linear and works channel by channel.
            before, after, gain = up(torch.cat([gaussians[k + 1], image, gain], dim=1),
                                     gaussians[k].shape[-2:]).split(3, dim=1)
            band = gaussians[k] - before
            image = torch.addcmul(band + after, band, gain)
        # Band 0 = x − up(g1), scaled by a constant per channel and put back on the new low
        # frequencies: up(image) + (x − up(g1))·scale = x·scale + up(image − g1·scale), as up is linear.
        scale = 1 + self.detail
        return (x * scale + up(image - gaussians[1] * scale, x.shape[-2:])).clamp_(-1, 1)

    def architecture(self) -> dict:
        return {"class": "PyramidGenerator", "features": self.low.features, "upsample": self.low.upsample,
                "levels": self.levels, "band_features": self.band_features}
