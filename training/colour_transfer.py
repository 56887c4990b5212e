"""Colour transfer (Reinhard, Ashikhmin, Gooch & Shirley, 2001): the study's non-learned baseline.

Each Lab channel of a game image is shifted and scaled so that the mean and spread of the game
training set become those of the movie training set; movie→game is the inverse. Nothing is
learnt but six numbers per domain, so it keeps every edge of the game and copies only global
colour statistics — including any difference in content between the two sets, which is why it
loses when game and movie footage show different places.

Works on the data type the networks use (float N×3×H×W RGB in [-1, 1]), so the study scores it
with the same code as a trained generator. Lab conversion: kornia.color.
"""
from __future__ import annotations

from pathlib import Path

import torch
from kornia.color import lab_to_rgb, rgb_to_lab
from torch import nn

from training.data import read_folder, to_model_range

STATISTICS_SIZE = 128  # images are shrunk to this square before their statistics are taken (speed only)


def lab_statistics(images: torch.Tensor, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each Lab channel over all pixels of uint8 N×H×W×3 RGB images."""
    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    count = 0
    for start in range(0, len(images), batch):
        lab = rgb_to_lab(to_model_range(images[start:start + batch]).add(1).div(2)).double()
        total += lab.sum(dim=(0, 2, 3))
        squares += lab.pow(2).sum(dim=(0, 2, 3))
        count += lab.shape[0] * lab.shape[2] * lab.shape[3]
    mean = total / count
    std = (squares / count - mean.pow(2)).clamp_min(1e-6).sqrt()
    return mean.float(), std.float()


class ColourTransfer(nn.Module):
    """RGB in [-1, 1] → the same pixels with the source set's Lab mean and spread moved to the target's."""

    def __init__(self, source: tuple[torch.Tensor, torch.Tensor], target: tuple[torch.Tensor, torch.Tensor]):
        super().__init__()
        self.register_buffer("source_mean", source[0].view(1, 3, 1, 1))
        self.register_buffer("source_std", source[1].view(1, 3, 1, 1))
        self.register_buffer("target_mean", target[0].view(1, 3, 1, 1))
        self.register_buffer("target_std", target[1].view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lab = rgb_to_lab(x.float().add(1).div(2).clamp(0, 1))
        lab = (lab - self.source_mean) / self.source_std * self.target_std + self.target_mean
        return lab_to_rgb(lab, clip=True).mul(2).sub(1)


def fit_pair(root: Path, limit: int | None = None) -> tuple[ColourTransfer, ColourTransfer]:
    """(game→movie, movie→game) from the statistics of the data set's train/game and train/movie."""
    game = lab_statistics(read_folder(root / "train" / "game", STATISTICS_SIZE, limit)[0])
    movie = lab_statistics(read_folder(root / "train" / "movie", STATISTICS_SIZE, limit)[0])
    return ColourTransfer(game, movie).eval(), ColourTransfer(movie, game).eval()
