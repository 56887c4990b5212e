"""Game pictures with real faces composited at known boxes: the ground truth for the face detector
comparison (scripts/benchmark_faces.py), faces mode's acceptance tests and its benchmark rows.

Faces come from scikit-image's sample data (a dev dependency, shipped in its wheel): the astronaut
(Eileen Collins), the cameraman, and the 100 face images of its LFW subset (25×25 grey crops, so
upscaled they are soft — a hard case on purpose). Each face is pasted with a feathered oval around it,
a colour cast and a brightness change, so no detector finds a square edge or the source's exact
colours. Images here are uint8 H×W×3 RGB; boxes are (x, y, w, h) of the face (brows to chin).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class FaceSource:
    name: str
    image: np.ndarray                  # uint8 RGB
    box: tuple[int, int, int, int]     # the face in `image`


@lru_cache(maxsize=1)
def face_sources() -> tuple[FaceSource, ...]:
    from skimage import data

    camera = np.repeat(data.camera()[..., None], 3, axis=2)
    lfw = (data.lfw_subset()[:100] * 255).round().astype(np.uint8)  # the first 100 are faces
    return (FaceSource("astronaut", data.astronaut(), (176, 72, 100, 100)),
            FaceSource("cameraman", camera, (185, 120, 80, 80)),
            *(FaceSource(f"lfw-{i:03d}", np.repeat(face[..., None], 3, axis=2), (0, 0, 25, 25))
              for i, face in enumerate(lfw)))


def face_patch(source: FaceSource, side: int,
               rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The face scaled so its box is side×side, with up to 0.6·side of its surroundings each way:
    (RGB patch, float alpha in [0, 1] — a feathered oval —, face box inside the patch)."""
    x, y, w, h = source.box
    height, width = source.image.shape[:2]
    grow = int(0.6 * w)
    left, top = max(0, x - grow), max(0, y - grow)
    right, bottom = min(width, x + w + grow), min(height, y + h + grow)
    scale = side / w
    crop = source.image[top:bottom, left:right]
    size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
    patch = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    face = (round((x - left) * scale), round((y - top) * scale), side, side)
    alpha = np.zeros(patch.shape[:2], np.float32)
    centre = (face[0] + side // 2, face[1] + side // 2)
    axes = (int(min(side * 0.75, patch.shape[1] / 2)), int(min(side * 0.95, patch.shape[0] / 2)))
    cv2.ellipse(alpha, centre, axes, 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, side * 0.08))
    if rng is not None:  # a colour cast and a brightness change, as game lighting would give
        gains = rng.uniform(0.8, 1.2, 3) * rng.uniform(0.75, 1.15)
        patch = np.clip(patch * gains, 0, 255).astype(np.uint8)
    return patch, alpha, face


def paste_face(image: np.ndarray, source: FaceSource, x: int, y: int, side: int,
               rng: np.random.Generator | None = None) -> tuple[int, int, int, int]:
    """Paste `source`'s face into `image` (RGB, in place) with its face box at (x, y, side, side);
    the surroundings are clipped at the frame's edges. Returns the face box."""
    patch, alpha, (fx, fy, _, _) = face_patch(source, side, rng)
    left, top = x - fx, y - fy
    height, width = image.shape[:2]
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + patch.shape[1]), min(height, top + patch.shape[0])
    if x1 <= x0 or y1 <= y0:
        return (x, y, side, side)
    part = patch[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
    weight = alpha[y0 - top:y1 - top, x0 - left:x1 - left, None]
    region = image[y0:y1, x0:x1]
    region[:] = np.rint(region * (1 - weight) + part * weight).astype(np.uint8)
    return (x, y, side, side)


def random_scene(background: np.ndarray, rng: np.random.Generator, count: int,
                 sides: tuple[int, int] = (40, 130)) -> tuple[np.ndarray, list[tuple[tuple[int, ...], str]]]:
    """`background` (RGB) with up to `count` faces that do not overlap, each at a random place and a
    size drawn log-uniformly from `sides` (px), a third each from the astronaut, the cameraman and
    the LFW faces; returns (image, [(face box, source name)])."""
    image = background.copy()
    height, width = image.shape[:2]
    sources = face_sources()
    groups = (sources[:1], sources[1:2], sources[2:])
    boxes: list[tuple[int, int, int, int]] = []
    names: list[str] = []
    for _ in range(count * 20):
        if len(boxes) == count:
            break
        side = int(round(np.exp(rng.uniform(np.log(sides[0]), np.log(sides[1])))))
        if side >= min(width, height):
            continue
        x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
        if any(x < bx + bw + side // 2 and bx < x + side + side // 2 and y < by + bh + side // 2
               and by < y + side + side // 2 for bx, by, bw, bh in boxes):
            continue
        group = groups[int(rng.integers(len(groups)))]
        source = group[int(rng.integers(len(group)))]
        boxes.append(paste_face(image, source, x, y, side, rng))
        names.append(source.name)
    return image, list(zip(boxes, names, strict=False))


# ----------------------------------------------------------------------------- a window of faces (Xvfb tests)

WINDOW_SIZE = (640, 360)
STILL_FACE = (60, 60, 100, 100)      # the astronaut, never moving
MOVING_ROW, MOVING_SIDE = 200, 100   # a second astronaut sliding along this row, x in MOVING_RANGE
MOVING_RANGE = (300, 520)
APPEARING_FACE = (480, 40, 90, 90)   # shown once "appear" is read on stdin


def window_picture(tick: int, appeared: bool) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The faces window's picture (RGB) at `tick` and its face boxes: a game-like background (sky,
    ground, a few blocks), the still face, the moving one and, once appeared, the third."""
    width, height = WINDOW_SIZE
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = (80, 120, 190)
    image[300:] = (70, 140, 60)
    for x in range(0, width, 80):
        image[280:300, x:x + 60] = (150, 100, 60)
    astronaut = face_sources()[0]
    span = MOVING_RANGE[1] - MOVING_RANGE[0]
    offset = (3 * tick) % (2 * span)
    x = MOVING_RANGE[0] + (offset if offset < span else 2 * span - offset)
    boxes = [paste_face(image, astronaut, *STILL_FACE[:3]),
             paste_face(image, astronaut, x, MOVING_ROW, MOVING_SIDE)]
    if appeared:
        boxes.append(paste_face(image, astronaut, *APPEARING_FACE[:3]))
    return image, boxes


def counted_picture(tick: int, size: tuple[int, int], count: int) -> np.ndarray:
    """A size-d game-like picture (RGB) with `count` (0 to 4) astronaut faces, each about 0.28 of the
    height, one to a quarter of the picture, swaying sideways (the benchmark's faces window)."""
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = (80, 120, 190)
    image[int(height * 0.83):] = (70, 140, 60)
    side = round(height * 0.28)
    sway = round(width * 0.03 * np.sin(tick / 15))
    for index in range(count):
        x = (index % 2) * width // 2 + width // 8 + sway
        y = (index // 2) * height // 2 + height // 10
        paste_face(image, face_sources()[0], x, y, side)
    return image


def window_main(title: str, width: int | None = None, height: int | None = None, count: int | None = None) -> None:
    """A frameless window at (0, 0) showing window_picture at 30 ticks a second; the line "appear" on
    stdin adds the third face. With width, height and count: counted_picture instead."""
    import sys
    import threading

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication, QWidget

    from devtools.xvfb import run_ticking

    size = WINDOW_SIZE if count is None else (width, height)
    app = QApplication([])
    appear = threading.Event()
    threading.Thread(target=lambda: [appear.set() for line in sys.stdin if line.strip() == "appear"],
                     daemon=True).start()

    class Faces(QWidget):
        def __init__(self):
            super().__init__()
            self.tick = 0
            self.setWindowTitle(title)
            self.setWindowFlags(Qt.WindowType.FramelessWindowHint)
            self.setGeometry(0, 0, *size)

        def paintEvent(self, event):
            if count is None:
                picture, _ = window_picture(self.tick, appear.is_set())
            else:
                picture = counted_picture(self.tick, size, count)
            self.picture = np.ascontiguousarray(picture)
            image = QImage(self.picture.data, size[0], size[1], 3 * size[0], QImage.Format.Format_RGB888)
            painter = QPainter(self)
            painter.drawImage(0, 0, image)
            painter.end()

    run_ticking(app, Faces(), 33)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["window"]:
        window_main(sys.argv[2], *map(int, sys.argv[3:6]))
