"""Labelled image grids (sample and test pictures) and atomic PNG writing."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from livestyle.core.files import write_bytes

LABEL_WIDTH = 150


def labelled_grid(rows: list[tuple[str, torch.Tensor]], min_tile: int = 128) -> np.ndarray:
    """Rows of uint8 N×H×W×3 RGB images, each row with its label on the left -> one RGB image."""
    tiles_per_row = max(images.shape[0] for _, images in rows)
    height, width = rows[0][1].shape[1:3]
    zoom = max(1, -(-min_tile // height))
    tile_h, tile_w = height * zoom, width * zoom
    canvas = np.full((len(rows) * (tile_h + 4) + 4, LABEL_WIDTH + tiles_per_row * (tile_w + 4) + 4, 3),
                     32, np.uint8)
    for r, (label, images) in enumerate(rows):
        top = 4 + r * (tile_h + 4)
        for line, text in enumerate(label.split("\n")):
            cv2.putText(canvas, text, (8, top + 22 + 20 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (235, 235, 235), 1, cv2.LINE_AA)
        for c, image in enumerate(images.numpy() if isinstance(images, torch.Tensor) else images):
            left = LABEL_WIDTH + 4 + c * (tile_w + 4)
            canvas[top:top + tile_h, left:left + tile_w] = cv2.resize(
                image, (tile_w, tile_h), interpolation=cv2.INTER_NEAREST)
    return canvas


def save_png(path: str | Path, rgb: np.ndarray, *, replace: bool = True) -> None:
    path = Path(path)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    write_bytes(path, encoded.tobytes(), replace=replace)
