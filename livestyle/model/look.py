"""A white-box film look: a colour grade of a few dozen bounded numbers (issue 25, its colour part).

In order, on RGB in [-1, 1] (NCHW), each channel first taken to [0, 1]:
1. per-channel tone curves, monotone by construction: a curve is a sum of K ramps
   `w_k · clamp(K·x − k, 0, 1)` whose weights are a softmax (positive, summing to 1), so it rises from
   0 at black to 1 at white; equal weights — the start — are the identity;
2. a 3×3 colour matrix with an offset, each entry the identity's plus a bounded change
   (`MATRIX_RANGE · tanh`, offsets `OFFSET_RANGE · tanh`), zero at the start;
3. a split tone driven by luminance (Rec. 709 weights): shadows pushed toward one tint and
   highlights toward another, `SPLIT_RANGE · tanh` each, weighted by (1 − L)² and L², zero at the start.
The result is clamped to [0, 1] and taken back to [-1, 1].

Every parameter is unconstrained for the optimiser and bounded where it is used, so any values give
a valid picture; at initialisation the look is the identity (to float precision). Only elementwise
ops, a 1×1 convolution (the matrix), a softmax and clamps: it exports to ONNX as ops every runtime,
TensorRT included, takes — no grid sampling (tests/test_look.py checks the list).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CURVE_POINTS = 16  # ramps per tone curve: a knee every 1/16 of the range
MATRIX_RANGE = 1.0  # each matrix entry moves at most this far from the identity's (room for monochrome)
OFFSET_RANGE = 0.2  # each channel's offset, in [0, 1] units
SPLIT_RANGE = 0.2  # each tint channel, in [0, 1] units
LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709


class ColourLook(nn.Module):
    """Tone curves → colour matrix and offset → luminance split tone; the identity at the start."""

    size_multiple = 1  # any H×W
    knees: torch.Tensor  # 0 … K−1, the ramps' starts (a buffer)
    luma: torch.Tensor  # Rec. 709 weights, 1×3×1×1 (a buffer)

    def __init__(self, curve_points: int = CURVE_POINTS):
        super().__init__()
        if not 2 <= curve_points <= 256:
            raise ValueError(f"curve_points must be 2 to 256, not {curve_points}")
        self.curve_points = curve_points
        self.curve_logits = nn.Parameter(torch.zeros(3, curve_points))  # softmax: equal weights, the identity
        self.matrix_change = nn.Parameter(torch.zeros(3, 3))
        self.offset_change = nn.Parameter(torch.zeros(3))
        self.shadow_tint = nn.Parameter(torch.zeros(3))
        self.highlight_tint = nn.Parameter(torch.zeros(3))
        self.register_buffer("knees", torch.arange(curve_points, dtype=torch.float32), persistent=False)
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def architecture(self) -> dict:
        return {"class": "ColourLook", "curve_points": self.curve_points}

    # the bounded numbers, as the picture sees them ---------------------------------------------------
    def curve_weights(self) -> torch.Tensor:
        """(3, K) ramp weights: positive, each row summing to 1."""
        return torch.softmax(self.curve_logits, dim=1)

    def matrix(self) -> torch.Tensor:
        return torch.eye(3, device=self.matrix_change.device) + MATRIX_RANGE * torch.tanh(self.matrix_change)

    def offset(self) -> torch.Tensor:
        return OFFSET_RANGE * torch.tanh(self.offset_change)

    def tints(self) -> tuple[torch.Tensor, torch.Tensor]:
        return SPLIT_RANGE * torch.tanh(self.shadow_tint), SPLIT_RANGE * torch.tanh(self.highlight_tint)

    @torch.no_grad()
    def set_grade(self, curves: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor,
                  shadow_tint: torch.Tensor | None = None, highlight_tint: torch.Tensor | None = None) -> None:
        """Set the parameters so the look shows this grade (a closed-form estimate, training's stage 0).

        curves: (3, K+1) each channel's value at the knees 0, 1/K, … 1, rising from 0 to 1 (made so:
        steps clamped positive and rescaled); matrix (3, 3) and offset (3,) as `matrix()` and `offset()`
        return them; tints as `tints()`. Values beyond a bound are clamped just inside it."""
        steps = torch.diff(curves.float(), dim=1).clamp_min(1e-4)
        self.curve_logits.copy_(torch.log(steps / steps.sum(dim=1, keepdim=True)))
        self.matrix_change.copy_(_inside(matrix.float() - torch.eye(3), MATRIX_RANGE))
        self.offset_change.copy_(_inside(offset.float(), OFFSET_RANGE))
        zero = torch.zeros(3)
        self.shadow_tint.copy_(_inside(zero if shadow_tint is None else shadow_tint.float(), SPLIT_RANGE))
        self.highlight_tint.copy_(_inside(zero if highlight_tint is None else highlight_tint.float(), SPLIT_RANGE))

    # the look ---------------------------------------------------------------------------------------
    def tone(self, unit: torch.Tensor) -> torch.Tensor:
        """Each channel of `unit` ([0, 1], N×3×H×W) through its curve.

        The sum of K ramps is piecewise linear, so it is evaluated as one: the curve's value at the knee
        below each pixel (a cumulative sum of the weights) plus that segment's weight times how far past
        the knee the pixel is — a gather per pixel instead of K ramps (K times less memory and work)."""
        k = self.curve_points
        weights = self.curve_weights()  # 3×K
        starts = torch.cumsum(weights, dim=1) - weights  # the curve at each knee, 3×K
        scaled = unit.clamp(0.0, 1.0) * k
        segment = scaled.floor().clamp(0, k - 1)  # which ramp is rising at this pixel
        index = segment.long().flatten(2)  # N×3×HW
        batch = unit.shape[0]
        base = torch.gather(starts.unsqueeze(0).expand(batch, 3, k), 2, index)
        slope = torch.gather(weights.unsqueeze(0).expand(batch, 3, k), 2, index)
        return (base + slope * (scaled.flatten(2) - segment.flatten(2))).view_as(unit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unit = self.tone((x + 1) * 0.5)
        graded = F.conv2d(unit, self.matrix().view(3, 3, 1, 1), self.offset())  # the matrix as a 1×1 conv
        luminance = (graded * self.luma).sum(dim=1, keepdim=True).clamp(0.0, 1.0)
        shadow, highlight = self.tints()
        graded = graded + (1 - luminance) ** 2 * shadow.view(1, 3, 1, 1) + luminance ** 2 * highlight.view(1, 3, 1, 1)
        return graded.clamp(0.0, 1.0) * 2 - 1


def _inside(value: torch.Tensor, bound: float) -> torch.Tensor:
    """The unconstrained parameter that `bound · tanh` maps to `value` (clamped just inside the bound)."""
    return torch.atanh((value / bound).clamp(-0.999, 0.999))


def apply_to_unit(look: ColourLook, unit: torch.Tensor) -> torch.Tensor:
    """The look on RGB in [0, 1] (N×3×H×W) — what a lookup table samples."""
    return (look(unit * 2 - 1) + 1) * 0.5


def randomized(module: nn.Module, seed: int, strength: float) -> nn.Module:
    """`module` with every parameter drawn from N(0, strength²) (seeded); bounded looks stay valid."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * strength)
    return module


def random_look(seed: int, strength: float = 1.0) -> ColourLook:
    """A look with random parameters (tests; content-identical pairs of random looks, issue 25's stage 2)."""
    return randomized(ColourLook(), seed, strength)  # type: ignore[return-value]


def unit_grid(points: int = 17) -> torch.Tensor:
    """Every (r, g, b) of a points³ lattice over [0, 1], as a 1×3×points×points² image (for lookup tables)."""
    axis = torch.linspace(0.0, 1.0, points)
    r, g, b = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b]).reshape(1, 3, points, points * points)
