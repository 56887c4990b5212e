"""A film look: a lens and film's spatial effects, then the colour look (issue 25).

In order, on RGB in [-1, 1] (N×3×H×W), taken to [0, 1]:
1. soft focus: a mix with a blur of the frame, `amount · (blur − x)` — positive softens, negative
   sharpens (an unsharp mask);
2. bloom (halation): where the luma passes a threshold, a wide blur of the excess, added with a tint
   (red-orange for film's halation);
3. vignette: the frame multiplied by `1 − strength · r²`, r the distance from the centre (1 in the corners);
4. the colour look (livestyle.model.look.ColourLook): tone curves, colour matrix, split tone.
Every number is bounded (`RANGE · tanh`), and zero at the start: a new FilmLook is the identity.
The weights also carry the look's film grain (`grain`, a buffer: its standard deviation at black in
[0, 1] units), which the forward pass never draws: grain cannot be predicted, so it is drawn for the
display only (livestyle.runtime.grain), never in a score.

Blurs are computed at reduced size, defined the same way on every path (torch, ONNX, OpenCV):
integer-factor average pooling (the factor from the frame height: `reduction(height)`), a fixed
5-tap binomial Gaussian [1 4 6 4 1]/16 with replicated edges, and bilinear enlargement with
align_corners False. At a fixed size (every engine is built for one) the factors are constants, so
the ONNX graph has AveragePool, Conv, Resize and elementwise ops only (no grid sampling).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from livestyle.model.look import CURVE_POINTS, LUMA, ColourLook, randomized

SOFT_RANGE = 0.8  # soft focus: at most 80% blur (or as much sharpening)
BLOOM_RANGE = 0.6  # each tint channel of the bloom
VIGNETTE_RANGE = 0.6  # the corners darken (or brighten) by at most this
BLUR_LINES = 90  # soft focus blurs at about this many lines (4× smaller at 360 lines)
BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def reduction(height: int, lines: int = BLUR_LINES) -> int:
    """The integer pooling factor that takes `height` to about `lines` (at least 1)."""
    return max(1, round(height / lines))


def shrink(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average pooling by `factor` (a partial last block averages the pixels it has)."""
    if factor == 1:
        return x
    return F.avg_pool2d(x, factor, factor, ceil_mode=True, count_include_pad=False)


def binomial(x: torch.Tensor) -> torch.Tensor:
    """The fixed 5-tap [1 4 6 4 1]/16 Gaussian, separable, edges replicated."""
    channels = int(x.shape[1])
    # A constant of known shape (an export needs one for a convolution's kernel).
    taps = torch.tensor([[v / 16.0 for v in BINOMIAL]] * channels, dtype=x.dtype, device=x.device)
    x = F.pad(x, (2, 2, 2, 2), mode="replicate")
    x = F.conv2d(x, taps.view(channels, 1, 1, 5), groups=channels)
    return F.conv2d(x, taps.view(channels, 1, 5, 1), groups=channels)


def enlarge(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, align_corners False, to exactly `size` (H, W)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def radius_squared(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """1×1×H×W: squared distance from the centre of pixel centres, 1 in the corners."""
    y = (torch.arange(height, dtype=like.dtype, device=like.device) + 0.5) / height * 2 - 1
    x = (torch.arange(width, dtype=like.dtype, device=like.device) + 0.5) / width * 2 - 1
    return ((y.view(-1, 1) ** 2 + x.view(1, -1) ** 2) / 2).view(1, 1, height, width)


class FilmLook(nn.Module):
    """Soft focus → bloom → vignette → colour look; the identity at the start."""

    size_multiple = 1  # any H×W
    grain: torch.Tensor  # the film grain the display draws (a scalar buffer; 0 = none)

    def __init__(self, curve_points: int = CURVE_POINTS):
        super().__init__()
        self.register_buffer("grain", torch.zeros(()))
        self.colour = ColourLook(curve_points)
        self.soft_focus = nn.Parameter(torch.zeros(()))
        self.bloom_threshold = nn.Parameter(torch.zeros(()))  # sigmoid: 0.5 … 0.95, 0.725 at the start
        self.bloom_tint = nn.Parameter(torch.zeros(3))
        self.vignette = nn.Parameter(torch.zeros(()))

    def architecture(self) -> dict:
        return {"class": "FilmLook", "curve_points": self.colour.curve_points}

    # the bounded numbers ---------------------------------------------------------------------------
    def settings(self) -> dict[str, float | list[float]]:
        """The spatial effects as numbers a person (or another program) can read."""
        with torch.no_grad():
            return {"soft_focus": round(self.soft_amount().item(), 4),
                    "bloom_threshold": round(self.threshold().item(), 4),
                    "bloom_tint": [round(v, 4) for v in self.tint().tolist()],
                    "vignette": round(self.vignette_strength().item(), 4),
                    "grain": round(float(self.grain), 4),
                    "blur_lines": BLUR_LINES}

    def soft_amount(self) -> torch.Tensor:
        return SOFT_RANGE * torch.tanh(self.soft_focus)

    def threshold(self) -> torch.Tensor:
        return 0.5 + 0.45 * torch.sigmoid(self.bloom_threshold)

    def tint(self) -> torch.Tensor:
        return BLOOM_RANGE * torch.tanh(self.bloom_tint)

    def vignette_strength(self) -> torch.Tensor:
        return VIGNETTE_RANGE * torch.tanh(self.vignette)

    @torch.no_grad()
    def set_vignette(self, strength: float) -> None:
        """The corners darkened by `strength` (clamped just inside the bound; negative brightens)."""
        self.vignette.fill_(math.atanh(max(-0.999, min(0.999, strength / VIGNETTE_RANGE))))

    # the look ---------------------------------------------------------------------------------------
    def spatial(self, unit: torch.Tensor) -> torch.Tensor:
        """The lens and film effects on RGB in [0, 1]; the colour look is not applied."""
        height, width = int(unit.shape[-2]), int(unit.shape[-1])  # constants in an export: one size per engine
        factor = reduction(height)
        softened = enlarge(binomial(shrink(unit, factor)), (height, width))
        unit = unit + self.soft_amount() * (softened - unit)
        luma = (shrink(unit, 2 * factor) * torch.tensor(LUMA, dtype=unit.dtype, device=unit.device).view(1, 3, 1, 1)
                ).sum(dim=1, keepdim=True)
        threshold = self.threshold()
        bright = ((luma - threshold) / (1 - threshold)).clamp(0.0, 1.0)
        glow = enlarge(binomial(binomial(bright)), (height, width))
        unit = unit + glow * self.tint().view(1, 3, 1, 1)
        unit = unit * (1 - self.vignette_strength() * radius_squared(height, width, unit))
        return unit.clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.colour(self.spatial((x + 1) * 0.5) * 2 - 1)


def random_film(seed: int, strength: float = 1.0) -> FilmLook:
    """A film look with random parameters (tests, benchmarks); no grain."""
    return randomized(FilmLook(), seed, strength)  # type: ignore[return-value]
