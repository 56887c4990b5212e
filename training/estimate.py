"""Stage 0 of the colour look (issue 25): the look estimated in closed form from unpaired footage.

The two domains show different content (a user's film never shows their game's levels), so the
estimate uses only statistics that a change of content moves little, and a few numbers:

* black and white points: each channel's 0.5th and 99.5th percentile over every frame of a domain.
  Almost every game and every film has some near-black and near-white somewhere, so where the
  extremes sit (lifted blacks, dulled or tinted whites) is a property of the look, not the scene.
  They give each channel a gain and an offset.
* contrast: an S-curve `x + k·(smoothstep(x) − x)` on every channel, k chosen on a grid so that the
  frames' luma spread (the per-frame standard deviation, averaged over frames) matches the target's.
  Where no k in range brings the spread within 10% of the target's, the spread is telling of the
  content, not of the grade (on dark footage an S-curve barely moves it: SuperTux's game levels spread
  0.117 at k 0 and 0.116 at k 1, its other levels 0.163), and k is the middle of the range — the
  smallest worst-case error when nothing is known (measured in docs/benchmarks/quality.md).
* saturation: the chroma spread (per frame, averaged) of the target over that of the graded source.
* vignette: the mean luma of all frames at each place, target over source — content averages out over
  many frames, a vignette does not — fitted as `c · (1 − v · r²)` (r: distance from the centre, 1 in the
  corners) by least squares.

The spreads and the profile still depend on the content (a snowy level is flatter than a forest; a
sky sits at the top), so each is bounded by how films are graded: a film look adds contrast, takes
saturation away and darkens the corners (k in [0, 1], saturation in [0.3, 1], v in [0, 0.6]); faded,
low-contrast prints come from the black and white points. movie→game gets the mirrored bounds.
Measured on the real-footage oracles (docs/benchmarks/quality.md): without those bounds the SuperTux
other-levels estimate flattened and over-saturated the game (−3.95 dB), and both other-levels
profiles asked for brighter corners (v −0.27 and −0.51, where the truth has none); with them it is
above doing nothing on all four, and the bleach-bypass vignette (truth 0.45) is estimated at 0.41.

Inputs: training images as uint8 N×H×W×3 tensors (or lists of H×W×3 tensors of any size).
* grain (for the display only, never scored): in the flattest 8×8 blocks of full-size frames (the
  10th percentile of each block's spread, scaled to what it would be at black), what the
  movie footage has beyond the game's, calibrated on our own grain (livestyle.runtime.grain).

Output: a `FilmLook` set to the estimate (soft focus and bloom left at zero: stage 1's to learn), and its
numbers (for the run's log).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from livestyle.model.film import VIGNETTE_RANGE, FilmLook, radius_squared
from livestyle.model.look import LUMA, ColourLook
from livestyle.runtime.grain import FilmGrain  # the one grain the display draws: calibrated on it
from training.data import image_files, read_image

STATISTICS_SIDE = 96  # images are shrunk (area) to at most this side first: statistics, not detail
POINT_PERCENT = 0.5  # black point: this percentile of a channel; white point: 100 minus it
QUANTILE_SAMPLES = 1_000_000  # values a percentile is taken over (torch.quantile's input limit is 16M)
CONTRAST_STEPS = 21  # the grid of S-curve strengths searched
UNEXPLAINED_SPREAD = 0.10  # no S-curve in range gets this close (relative) to the target's spread: content, not grade
GRID_IMAGES = 128  # source images the grid search grades (evenly spaced; enough for a spread, and fast)
CALIBRATION_AMOUNT = 0.05
MAX_GRAIN = 0.15
PROFILE_SIDE = 32  # the vignette's luma profile, per place, at this square size
TO_FILM = {"contrast": (0.0, 1.0), "saturation": (0.3, 1.0), "vignette": (0.0, VIGNETTE_RANGE)}
FROM_FILM = {"contrast": (-1.0, 0.0), "saturation": (1.0, 1 / 0.3), "vignette": (-VIGNETTE_RANGE, 0.0)}


@dataclass
class LookEstimate:
    """The stage-0 numbers of one direction, in [0, 1] units."""
    source_black: list[float]
    source_white: list[float]
    target_black: list[float]
    target_white: list[float]
    contrast: float  # k of the S-curve
    saturation: float
    vignette: float = 0.0  # v: the corners darkened by v (negative: brightened)
    grain: float = 0.0  # the grain drawn for display, its standard deviation at black
    contrast_from: str = "luma spread"  # or the middle of the range, when no S-curve explains the spread

    def to_dict(self) -> dict:
        return {k: [round(x, 4) for x in v] if isinstance(v, list) else v if isinstance(v, str) else round(v, 4)
                for k, v in asdict(self).items()}


def unit_images(images) -> torch.Tensor:
    """uint8 N×H×W×3 (tensor, or a list of H×W×3 of any sizes) -> float N×3×h×w in [0, 1], h, w ≤ the
    statistics side (a list is squashed to one square: percentiles and spreads do not mind)."""
    if isinstance(images, list):
        return torch.cat([_shrink(image[None], (STATISTICS_SIDE, STATISTICS_SIDE)) for image in images])
    height, width = images.shape[1:3]
    scale = min(1.0, STATISTICS_SIDE / max(height, width))
    return _shrink(images, (max(1, round(height * scale)), max(1, round(width * scale))))


def _shrink(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    unit = images.permute(0, 3, 1, 2).float().div(255.0)
    return unit if tuple(unit.shape[-2:]) == size else F.adaptive_avg_pool2d(unit, size)


def channel_points(unit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each channel's black and white point over all pixels of N×3×H×W in [0, 1]."""
    values = unit.transpose(0, 1).reshape(3, -1)
    values = values[:, ::max(1, values.shape[1] // QUANTILE_SAMPLES)]
    low, high = torch.quantile(values, torch.tensor([POINT_PERCENT / 100, 1 - POINT_PERCENT / 100]), dim=1)
    return low, high


def luma_spread(unit: torch.Tensor) -> float:
    luma = (unit * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1)
    return luma.flatten(1).std(dim=1).mean().item()


def chroma_spread(unit: torch.Tensor) -> float:
    luma = (unit * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return (unit - luma).pow(2).flatten(1).mean(1).sqrt().mean().item()


def graded_look(curve_points: int, contrast: float, gain: torch.Tensor, offset: torch.Tensor,
                saturation: float) -> ColourLook:
    """A ColourLook showing: S-curve of strength `contrast` per channel, then gain and offset per channel,
    then saturation about the luma."""
    knees = torch.linspace(0.0, 1.0, curve_points + 1)
    curve = knees + contrast * (knees * knees * (3 - 2 * knees) - knees)
    luma = torch.tensor(LUMA)
    towards_grey = saturation * torch.eye(3) + (1 - saturation) * torch.ones(3, 1) * luma.view(1, 3)
    look = ColourLook(curve_points)
    look.set_grade(curve.expand(3, -1), towards_grey @ torch.diag(gain), towards_grey @ offset)
    return look


@torch.no_grad()
def estimate_look(source_images, target_images, to_film: bool = True,
                  curve_points: int | None = None) -> tuple[ColourLook, LookEstimate]:
    """The look that takes the source domain's statistics to the target's (see the module's notes);
    `to_film` picks the bounds (game→movie True, movie→game False)."""
    bounds = TO_FILM if to_film else FROM_FILM
    source, target = unit_images(source_images), unit_images(target_images)
    source_black, source_white = channel_points(source)
    sample = source[::max(1, len(source) // GRID_IMAGES)]
    target_black, target_white = channel_points(target)
    gain = (target_white - target_black) / (source_white - source_black).clamp_min(0.05)
    offset = target_black - gain * source_black
    points = curve_points or ColourLook().curve_points
    wanted = luma_spread(target)
    grid = torch.linspace(*bounds["contrast"], CONTRAST_STEPS).tolist()
    misses = [abs(luma_spread(_apply(graded_look(points, k, gain, offset, 1.0), sample)) - wanted) for k in grid]
    contrast = grid[misses.index(min(misses))]
    contrast_from = "luma spread"
    if min(misses) > UNEXPLAINED_SPREAD * wanted:
        contrast, contrast_from = sum(bounds["contrast"]) / 2, "middle of the range (spread unexplained)"
    graded = _apply(graded_look(points, contrast, gain, offset, 1.0), sample)
    saturation = chroma_spread(target) / max(chroma_spread(graded), 1e-6)
    saturation = min(max(saturation, bounds["saturation"][0]), bounds["saturation"][1])
    look = graded_look(points, contrast, gain, offset, saturation)
    numbers = LookEstimate(source_black.tolist(), source_white.tolist(), target_black.tolist(),
                           target_white.tolist(), contrast, saturation, contrast_from=contrast_from)
    return look, numbers


def luma_profile(unit: torch.Tensor) -> torch.Tensor:
    """Mean luma of all frames at each place, PROFILE_SIDE²."""
    luma = (F.adaptive_avg_pool2d(unit, PROFILE_SIDE) * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1)
    return luma.mean(0)


def vignette_strength(source: torch.Tensor, target: torch.Tensor, bounds: tuple[float, float]) -> float:
    """v of `target ≈ c · source · (1 − v·r²)` over the mean luma profiles, clamped to `bounds`."""
    ratio = luma_profile(target) / luma_profile(source).clamp_min(0.02)
    r2 = radius_squared(PROFILE_SIDE, PROFILE_SIDE, ratio).flatten()
    design = torch.stack([torch.ones_like(r2), -r2], dim=1).double()
    (c, cv), *_ = torch.linalg.lstsq(design, ratio.flatten().double().unsqueeze(1))
    strength = (cv / c).item() if abs(c.item()) > 1e-6 else 0.0
    return min(max(strength, bounds[0]), bounds[1])


@torch.no_grad()
def estimate_film(source_images, target_images, to_film: bool = True) -> tuple[FilmLook, LookEstimate]:
    """estimate_look's colour look inside a FilmLook, with the vignette estimated too."""
    colour, numbers = estimate_look(source_images, target_images, to_film)
    bounds = (TO_FILM if to_film else FROM_FILM)["vignette"]
    numbers.vignette = vignette_strength(unit_images(source_images), unit_images(target_images), bounds)
    film = FilmLook(colour.curve_points)
    film.colour.load_state_dict(colour.state_dict())
    film.set_vignette(numbers.vignette)
    return film, numbers


GRAIN_BLOCK = 8
GRAIN_PERCENTILE = 10


def flat_noise(frames: list) -> float:
    """The spread of the flattest blocks (GRAIN_PERCENTILE-th percentile over all 8×8 blocks of
    uint8 H×W×3 RGB frames), each block's spread divided by grain's strength at its grey level."""
    spreads = []
    for frame in frames:
        image = torch.as_tensor(frame).permute(2, 0, 1)[None].float().div(255.0)
        grey = (image * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
        residual = grey  # a block's own spread: all of the grain's energy, whatever its clumping
        height = residual.shape[-2] // GRAIN_BLOCK * GRAIN_BLOCK
        width = residual.shape[-1] // GRAIN_BLOCK * GRAIN_BLOCK
        if not height or not width:
            continue
        blocks = F.unfold(residual[..., :height, :width], GRAIN_BLOCK, stride=GRAIN_BLOCK)[0]  # 64 × blocks
        means = F.avg_pool2d(grey[..., :height, :width], GRAIN_BLOCK).flatten()
        spreads.append(blocks.std(dim=0) / (1.0 - 0.5 * means))
    if not spreads:
        return 0.0
    values = torch.cat(spreads)
    return torch.quantile(values[::max(1, len(values) // QUANTILE_SAMPLES)], GRAIN_PERCENTILE / 100).item()


GRAIN_FRAMES = 24  # full-size frames per domain the grain is measured on, evenly spaced


def grain_frames(folder: Path) -> list[np.ndarray]:
    """Up to GRAIN_FRAMES images of a folder at their own size (uint8 H×W×3 RGB), evenly spaced by name."""
    files = image_files(folder)
    return [read_image(path, None) for path in files[::max(1, len(files) // GRAIN_FRAMES)][:GRAIN_FRAMES]]


def grain_strength(movie_frames: list, game_frames: list) -> float:
    """The grain's standard deviation at black (livestyle.runtime.grain's `amount`) that the movie frames
    carry beyond the game frames' own noise; 0 when they carry none."""
    excess = max(0.0, flat_noise(movie_frames) ** 2 - flat_noise(game_frames) ** 2) ** 0.5
    if excess == 0.0:
        return 0.0
    grey = np.full((256, 256, 3), 128, np.uint8)
    reference = FilmGrain(CALIBRATION_AMOUNT)
    measured = flat_noise([np.ascontiguousarray(reference(grey)[..., ::-1]) for _ in range(4)])
    return min(excess / max(measured / CALIBRATION_AMOUNT, 1e-6), MAX_GRAIN)


def _apply(look: ColourLook, unit: torch.Tensor) -> torch.Tensor:
    return (look(unit * 2 - 1) + 1) * 0.5
