"""Procedural paired game/movie images: a training set whose right answer is known.

Every scene is drawn once as a *label map* (which shape covers each pixel) plus one
material per shape (colour and a lighting plane). The two looks are then two ways of
shading the very same label map, so geometry and content are identical:

* ``game``  - saturated palette, hard (aliased) edges, cel-shaded steps, dark outlines.
* ``movie`` - smooth lighting, antialiased edges, slight blur, bloom, desaturated
  teal/orange grade, vignette and (optionally) random film grain.

``render(kind, params, "movie", grain=False)`` is the oracle target for a game input.
Run ``python -m training.synth --help`` to write a dataset to disk.
"""
from __future__ import annotations

import functools
import json
import math
import pathlib
import shlex
import sys

import cv2
import numpy as np
from tqdm import tqdm

from livestyle.core.cli import ArgumentParser, bounded_int, configure_logging, interrupted, interruptible
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import describe, folder_under_construction
from livestyle.core.sizes import MAX_SIDE, parse_size, side_fits

SYNTH_VERSION = "1"
KINDS = ("faces", "frames")
LOOKS = ("game", "movie")

# Drawing happens at this multiple of the output size; the movie look averages it down
# (antialiasing), the game look samples it (hard edges).
_SUPERSAMPLE = 2
_SHIFT = 4  # fixed-point bits for sub-pixel accurate cv2 polygons
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)

# Look constants. The do-nothing SSIM (game vs clean movie) is calibrated with these;
# changing any of them changes the dataset, so bump SYNTH_VERSION.
_GAME_SATURATION = 1.2
_GAME_INK = np.array([0.09, 0.07, 0.11], np.float32)
_GAME_CEL_STEP = 0.3        # brightness step between cel-shading tones of lit shapes
_MOVIE_BLUR = 0.45          # px at 128 px output
_MOVIE_SATURATION = 0.8
# Colour matrix for cv2.transform: mix each channel towards luminance.
_MOVIE_DESATURATE = (_MOVIE_SATURATION * np.eye(3) + (1 - _MOVIE_SATURATION) * _LUMA[None, :]).astype(np.float32)
_MOVIE_SHADOW_TINT = np.array([-0.05, 0.03, 0.07], np.float32)   # teal
_MOVIE_HIGHLIGHT_TINT = np.array([0.07, 0.02, -0.06], np.float32)  # warm
_MOVIE_BLACK_LIFT = 0.04
_MOVIE_VIGNETTE = 0.35
_MOVIE_BLOOM = 0.3
_MOVIE_CONTACT_SHADOW = 0.5
_MOVIE_DEPTH_BLUR = 1.6     # px at 128 px output, faces background only
_MOVIE_GRAIN = 0.03

# ----------------------------------------------------------------------------------
# Scene parameters
# ----------------------------------------------------------------------------------

_SKIN_TONES = [(0.98, 0.84, 0.72), (0.93, 0.76, 0.62), (0.85, 0.64, 0.48),
               (0.72, 0.51, 0.36), (0.55, 0.37, 0.25), (0.40, 0.27, 0.19)]
_HAIR_COLOURS = [(0.10, 0.08, 0.07), (0.30, 0.19, 0.11), (0.55, 0.35, 0.18),
                 (0.85, 0.70, 0.40), (0.70, 0.28, 0.12), (0.75, 0.75, 0.75),
                 (0.25, 0.35, 0.75), (0.85, 0.40, 0.60)]
_IRIS_COLOURS = [(0.35, 0.22, 0.12), (0.20, 0.45, 0.70), (0.30, 0.55, 0.30),
                 (0.50, 0.40, 0.20), (0.45, 0.45, 0.55)]
_HAIR_STYLES = ("bald", "short", "long", "bob", "bun", "spiky", "afro")
_MOUTHS = ("smile", "open", "neutral")


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _colour(rng: np.random.Generator, jitter: float = 0.0, choices=None) -> list[float]:
    """A random colour (or one of ``choices``), jittered; plain floats so params stay JSON-able."""
    if choices is None:
        base = rng.uniform(0.1, 0.9, 3)
    else:
        base = np.asarray(choices[rng.integers(len(choices))], float)
    return [float(v) for v in np.clip(base + rng.uniform(-jitter, jitter, 3), 0.02, 0.98)]


def _sample_face(rng: np.random.Generator) -> dict:
    head_rx = _u(rng, 0.20, 0.25)
    eye_rx = head_rx * _u(rng, 0.20, 0.26)
    hair = _HAIR_STYLES[rng.integers(len(_HAIR_STYLES))]
    return {
        "pose": {"scale": _u(rng, 0.9, 1.1), "angle": _u(rng, -10, 10),
                 "dx": _u(rng, -0.05, 0.05), "dy": _u(rng, -0.04, 0.04)},
        "light_angle": _u(rng, -160, -20),  # degrees; negative = from above
        "relief": _u(rng, 0.35, 0.5),
        "background": {"colour": _colour(rng, 0.0), "gradient": _u(rng, -0.35, 0.15),
                       "blobs": [{"x": _u(rng, 0, 1), "y": _u(rng, 0, 0.8),
                                  "r": _u(rng, 0.06, 0.2), "colour": _colour(rng)}
                                 for _ in range(rng.integers(0, 4))]},
        "skin": _colour(rng, 0.03, _SKIN_TONES),
        "head": {"rx": head_rx, "ry": head_rx * _u(rng, 1.2, 1.4),
                 "squareness": _u(rng, 2.0, 3.2), "taper": _u(rng, 0.0, 0.35)},
        "shirt": _colour(rng, 0.1),
        "hair": {"style": hair, "colour": _colour(rng, 0.04, _HAIR_COLOURS),
                 "fringe": _u(rng, 0.08, 0.3), "part": _u(rng, -0.6, 0.6),
                 "spikes": int(rng.integers(5, 9))},
        "eyes": {"y": _u(rng, -0.12, -0.02), "spacing": head_rx * _u(rng, 0.38, 0.5),
                 "rx": eye_rx, "ry": eye_rx * _u(rng, 0.5, 0.72),
                 "iris": _colour(rng, 0.05, _IRIS_COLOURS),
                 "gaze_x": _u(rng, -0.3, 0.3), "gaze_y": _u(rng, -0.15, 0.15)},
        "brows": {"raise": _u(rng, 0.025, 0.05), "tilt": _u(rng, -0.25, 0.25),
                  "thickness": _u(rng, 0.012, 0.022)},
        "nose": {"length": _u(rng, 0.18, 0.3), "width": _u(rng, 0.12, 0.2)},
        "mouth": {"style": _MOUTHS[rng.integers(len(_MOUTHS))], "y": _u(rng, 0.42, 0.58),
                  "width": _u(rng, 0.28, 0.48), "lips": _colour(rng, 0.05, [(0.75, 0.3, 0.3),
                                                                        (0.6, 0.25, 0.25),
                                                                        (0.85, 0.4, 0.45)])},
        "beard": bool(rng.random() < 0.15),
        "glasses": _colour(rng, 0.1) if rng.random() < 0.2 else None,
        "blush": _u(rng, 0.0, 0.5) if rng.random() < 0.4 else 0.0,
    }


def _sample_frame(rng: np.random.Generator) -> dict:
    horizon = _u(rng, 0.45, 0.62)
    sunset = bool(rng.random() < 0.3)
    sky_top = _colour(rng, 0.06, [(0.25, 0.45, 0.85), (0.35, 0.55, 0.9)] if not sunset
                      else [(0.35, 0.3, 0.6), (0.5, 0.35, 0.55)])
    sky_low = _colour(rng, 0.05, [(0.7, 0.85, 0.95)] if not sunset else [(0.98, 0.65, 0.4)])
    road = bool(rng.random() < 0.8)
    road_x = _u(rng, 0.35, 0.65)
    road_width = _u(rng, 0.5, 0.9) if road else 0.0

    def beside_road(y: float, margin: float) -> float:
        """An x that keeps an object of half-width ``margin`` off the road at depth ``y``."""
        half = road_width / 2 * (y - horizon) / (1 - horizon) + margin
        centre = road_x + (0.5 - road_x) * (y - horizon) / (1 - horizon)
        x = _u(rng, centre - half - 0.35, centre - half) if rng.random() < 0.5 else \
            _u(rng, centre + half, centre + half + 0.35)
        # Keep most of the object in the picture (it may then touch the road, rarely).
        return min(max(x, -0.3 * margin), 1 + 0.3 * margin)

    buildings = []
    for _ in range(rng.integers(1, 6)):
        base = horizon + _u(rng, 0.02, 0.12)
        width = _u(rng, 0.08, 0.2)
        cols, rows = int(rng.integers(2, 5)), int(rng.integers(2, 7))
        buildings.append({
            "x": beside_road(base, width / 2), "base": base, "width": width,
            "height": _u(rng, 0.15, 0.4), "colour": _colour(rng, 0.0),
            "roof": "gable" if rng.random() < 0.35 else "flat", "roof_colour": _colour(rng),
            "cols": cols, "rows": rows, "lit": [int(v) for v in rng.random(cols * rows) < 0.45],
            "window_colour": _colour(rng, 0.05, [(0.2, 0.25, 0.35)]),
        })
    trees = []
    for _ in range(rng.integers(1, 7)):
        base = _u(rng, horizon + 0.03, 0.98)
        size = (base - horizon) * _u(rng, 0.5, 0.9) + 0.04
        trees.append({"x": beside_road(base, size * 0.5), "base": base, "size": size,
                      "pine": bool(rng.random() < 0.4),
                      "leaves": _colour(rng, 0.06, [(0.2, 0.55, 0.2), (0.35, 0.6, 0.15),
                                                    (0.15, 0.4, 0.25), (0.75, 0.45, 0.15)])})
    sun_x = _u(rng, 0.1, 0.9)
    sun_y = _u(rng, 0.08, horizon - 0.12)
    return {
        "horizon": horizon, "sky_top": sky_top, "sky_low": sky_low,
        "sun": {"x": sun_x, "y": sun_y, "r": _u(rng, 0.035, 0.07),
                "colour": _colour(rng, 0.03, [(1.0, 0.95, 0.6)] if not sunset else [(1.0, 0.7, 0.4)])},
        "relief": _u(rng, 0.3, 0.45),
        "clouds": [{"x": _u(rng, 0, 1), "y": _u(rng, 0.05, horizon - 0.08), "w": _u(rng, 0.08, 0.2),
                    "puffs": [[_u(rng, -1, 1), _u(rng, -0.3, 0.2), _u(rng, 0.35, 0.6)]
                              for _ in range(4)]}
                   for _ in range(rng.integers(0, 4))],
        # Two ridges, far then near; the far one may be bluish with distance.
        "hills": [{"height": _u(rng, 0.04, 0.16) * (2 - i), "colour": _colour(rng, 0.06, [
                       (0.45, 0.55, 0.7), (0.3, 0.55, 0.3), (0.5, 0.6, 0.35)][i:i + 2]),
                   "waves": [[_u(rng, 1, 5), _u(rng, 0, 2 * math.pi), _u(rng, 0.2, 1)]
                             for _ in range(3)]}
                  for i in range(2)],
        "ground": _colour(rng, 0.06, [(0.35, 0.6, 0.25), (0.55, 0.6, 0.3), (0.6, 0.55, 0.4)]),
        "road": {"present": road, "x": road_x, "width": road_width,
                 "colour": _colour(rng, 0.04, [(0.35, 0.35, 0.38)])},
        "buildings": buildings,
        "trees": trees,
    }


def sample_params(kind: str, rng: np.random.Generator) -> dict:
    """Random scene parameters for ``kind`` (a JSON-serialisable dict)."""
    _check_kind(kind)
    return _sample_face(rng) if kind == "faces" else _sample_frame(rng)


# ----------------------------------------------------------------------------------
# Geometry: a label map plus one material per label
# ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _unit_arc(start: float, end: float, squareness: float, n: int) -> np.ndarray:
    t = np.radians(np.linspace(start, end, n))
    c, s = np.cos(t), np.sin(t)
    e = 2.0 / squareness  # superellipse: 2 is an ellipse, larger is boxier
    return np.stack([np.sign(c) * np.abs(c) ** e, np.sign(s) * np.abs(s) ** e], 1)


def _ellipse_points(cx, cy, rx, ry, start=0.0, end=360.0, squareness=2.0, n=48) -> np.ndarray:
    return _unit_arc(start, end, squareness, n) * (rx, ry) + (cx, cy)


class _Canvas:
    """Shapes drawn into a label map in painter's order; coordinates are image fractions.

    Each label (the index of its material) has one row in ``table()``: base colour r g b,
    a lighting plane a b c (``shade = a*x + b*y + c`` over image fractions), the game
    look's cel-shading step, whether the game look outlines it, whether it is
    out-of-focus background in the movie look, and how much movie haze it gets.
    """

    def __init__(self, side: int, light_angle: float):
        self.side = side
        self.labels = np.zeros((side, side), np.uint8)
        self.light = np.array([math.cos(math.radians(light_angle)), math.sin(math.radians(light_angle))])
        self.materials: list[tuple] = []
        self.haze_colour = np.zeros(3, np.float32)
        self.pose = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        self.scale = 1.0

    def set_pose(self, centre, scale: float, angle: float, dx: float, dy: float) -> None:
        """Similarity transform applied to all later coordinates (face pose jitter)."""
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        m[:, 2] += (dx, dy)
        self.pose, self.scale = m, scale

    def _map(self, points) -> np.ndarray:
        points = np.asarray(points, float).reshape(-1, 2)
        return points @ self.pose[:, :2].T + self.pose[:, 2]

    def _add(self, colour, plane, step: float, outline: bool, background: bool, haze=0.0) -> int:
        if len(self.materials) >= 255:
            raise RuntimeError("too many materials in one scene")
        self.materials.append((*colour, *plane, step, outline, background, haze))
        return len(self.materials) - 1

    def lit(self, colour, centre, radius: float, relief: float, outline=True, haze=0.0) -> int:
        """A material lit from the scene light: brighter on the side of ``centre`` facing it.

        ``haze`` (0-1) fades it towards ``haze_colour`` in the movie look: aerial perspective.
        """
        cx, cy = self._map(centre)[0]
        k = relief / (radius * self.scale)
        a, b = k * self.light
        return self._add(colour, (a, b, 1.0 - a * cx - b * cy), _GAME_CEL_STEP, outline, False, haze)

    def graded(self, colour, top: float, bottom: float, y0=0.0, y1=1.0, step=0.08,
               outline=True, background=False) -> int:
        """A material whose brightness runs vertically from ``top`` at y0 to ``bottom`` at y1."""
        b = (bottom - top) / (y1 - y0)
        return self._add(colour, (0.0, b, top - b * y0), step, outline, background)

    def _px(self, points) -> np.ndarray:
        return np.round(self._map(points) * self.side * (1 << _SHIFT)).astype(np.int32)

    def polygon(self, label: int, *polygons) -> None:
        cv2.fillPoly(self.labels, [self._px(p) for p in polygons], int(label), cv2.LINE_8, _SHIFT)

    def ellipse(self, label: int, cx, cy, rx, ry, start=0.0, end=360.0, squareness=2.0) -> None:
        self.polygon(label, _ellipse_points(cx, cy, rx, ry, start, end, squareness))

    def rect(self, label: int, x0, y0, x1, y1) -> None:
        self.polygon(label, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])

    def polyline(self, label: int, points, width: float, closed=False) -> None:
        thickness = max(1, int(round(width * self.scale * self.side)))
        cv2.polylines(self.labels, [self._px(points)], closed, int(label), thickness, cv2.LINE_8, _SHIFT)

    def table(self) -> np.ndarray:
        return np.array(self.materials, np.float32)


def _darker(colour, factor: float) -> list[float]:
    return [min(1.0, c * factor) for c in colour]


_FACE_CENTRE = (0.5, 0.47)  # the head's centre before the pose, in image fractions


def _draw_face(cv: _Canvas, p: dict) -> None:
    # Painter's order: each part covers the ones drawn before it, and each part adds its materials
    # (label numbers) in turn, so reordering these calls changes the data set.
    _draw_face_background(cv, p["background"])
    pose = p["pose"]
    cv.set_pose(_FACE_CENTRE, pose["scale"], pose["angle"], pose["dx"], pose["dy"])
    _draw_back_hair(cv, p)
    _draw_body(cv, p)
    outline = _draw_head(cv, p)
    if p["beard"]:
        _draw_beard(cv, p, outline)
    if p["hair"]["style"] not in ("bald", "afro"):
        _draw_hair_cap(cv, p)
    if p["blush"] > 0:
        _draw_blush(cv, p)
    _draw_eyes(cv, p)
    if p["glasses"] is not None:
        _draw_glasses(cv, p)
    _draw_nose(cv, p)
    _draw_mouth(cv, p)


def _head_geometry(p: dict) -> tuple[float, float, float, float, float]:
    """(cx, cy, rx, ry, relief): the head's centre and radii before the pose, and the scene's relief."""
    head = p["head"]
    return _FACE_CENTRE[0], _FACE_CENTRE[1], head["rx"], head["ry"], p["relief"]


def _draw_face_background(cv: _Canvas, bg: dict) -> None:
    cv.graded(bg["colour"], 1.0 + bg["gradient"], 1.0 - bg["gradient"], step=0.2, outline=False, background=True)
    for blob in bg["blobs"]:
        label = cv.graded(blob["colour"], 1.05, 0.95, blob["y"] - blob["r"], blob["y"] + blob["r"],
                          step=0.25, outline=False, background=True)
        cv.ellipse(label, blob["x"], blob["y"], blob["r"], blob["r"])


def _draw_back_hair(cv: _Canvas, p: dict) -> None:
    """Hair that hangs behind the head, so it comes first in painter's order."""
    cx, cy, rx, ry, relief = _head_geometry(p)
    hair_colour, style = p["hair"]["colour"], p["hair"]["style"]
    if style in ("long", "bob", "afro"):
        back = cv.lit(hair_colour, (cx, cy), rx * 1.3, relief)
        if style == "long":
            cv.polygon(back, np.concatenate([
                _ellipse_points(cx, cy - ry * 0.05, rx * 1.15, ry * 1.05, 180, 360),
                [(cx + rx * 1.25, cy + ry * 1.45), (cx - rx * 1.25, cy + ry * 1.45)]]))
        elif style == "bob":
            cv.ellipse(back, cx, cy, rx * 1.2, ry * 1.08, squareness=2.6)
        else:
            cv.ellipse(back, cx, cy - ry * 0.25, rx * 1.55, ry * 1.15)
    if style == "bun":
        bun = cv.lit(hair_colour, (cx, cy - ry * 1.05), rx * 0.35, relief)
        cv.ellipse(bun, cx, cy - ry * 1.05, rx * 0.38, rx * 0.35)


def _draw_body(cv: _Canvas, p: dict) -> None:
    """Shirt, neck and ears: what the face outline is drawn over."""
    cx, cy, rx, ry, relief = _head_geometry(p)
    skin = p["skin"]
    shirt = cv.lit(p["shirt"], (cx, cy + ry * 1.7), rx * 2.0, relief)
    cv.ellipse(shirt, cx, cy + ry * 1.85, rx * 2.1, ry * 0.85)
    neck = cv.lit(_darker(skin, 0.82), (cx, cy + ry), rx * 0.5, relief)
    cv.rect(neck, cx - rx * 0.42, cy + ry * 0.5, cx + rx * 0.42, cy + ry * 1.25)
    ears = cv.lit(_darker(skin, 0.93), (cx, cy), rx, relief)
    for side in (-1, 1):
        cv.ellipse(ears, cx + side * rx * 0.97, cy + ry * 0.05, rx * 0.16, ry * 0.16)


def _draw_head(cv: _Canvas, p: dict) -> np.ndarray:
    """The face outline, a superellipse narrowed towards the chin; returns it relative to the centre."""
    cx, cy, rx, ry, relief = _head_geometry(p)
    head = p["head"]
    face_label = cv.lit(p["skin"], (cx, cy), rx, relief)
    outline = _ellipse_points(0, 0, rx, ry, 0, 360, head["squareness"], n=64)
    below = np.clip(outline[:, 1] / ry, 0, 1)
    outline[:, 0] *= 1 - head["taper"] * below ** 2
    cv.polygon(face_label, outline + (cx, cy))
    return outline


def _draw_beard(cv: _Canvas, p: dict, outline: np.ndarray) -> None:
    cx, cy, rx, ry, relief = _head_geometry(p)
    beard = cv.lit(p["hair"]["colour"], (cx, cy + ry * 0.5), rx, relief)
    cv.polygon(beard, np.concatenate([outline[outline[:, 1] > ry * 0.1] + (cx, cy),
                                      _ellipse_points(cx, cy + ry * 0.45, rx * 0.5, ry * 0.22, 0, 180)[::-1]]))


def _draw_hair_cap(cv: _Canvas, p: dict) -> None:
    """The top of the head outline, closed by a (parted) fringe line."""
    cx, cy, rx, ry, relief = _head_geometry(p)
    hair, eyes = p["hair"], p["eyes"]
    cap = cv.lit(hair["colour"], (cx, cy - ry * 0.5), rx, relief)
    top = _ellipse_points(cx, cy - ry * 0.02, rx * 1.08, ry * 1.06, 175, 365, 2.2, n=40)
    if hair["style"] == "spiky":
        tips = _ellipse_points(cx, cy - ry * 0.05, rx * 1.3, ry * 1.28, 175, 365, n=hair["spikes"] * 2 + 1)
        top = np.where((np.arange(len(tips)) % 2 == 1)[:, None], tips,
                       _ellipse_points(cx, cy - ry * 0.02, rx * 1.05, ry * 1.03, 175, 365, n=len(tips)))
    # The fringe stays above the eyes, whatever the head proportions.
    eye_top = cy + eyes["y"] - eyes["ry"]
    fringe_y, side_y = eye_top - ry * hair["fringe"], eye_top - eyes["ry"] * 0.3
    part_x = cx + rx * hair["part"] * 0.6
    fringe = [(cx + rx * 1.02, side_y), (part_x + rx * 0.3, fringe_y),
              (part_x, fringe_y - ry * 0.12), (part_x - rx * 0.3, fringe_y),
              (cx - rx * 1.02, side_y)]
    cv.polygon(cap, np.concatenate([top, fringe]))


def _draw_blush(cv: _Canvas, p: dict) -> None:
    cx, cy, rx, ry, relief = _head_geometry(p)
    blush = cv.lit(np.clip(np.array(p["skin"]) * (1 - 0.25 * p["blush"]) + [0.2 * p["blush"], 0, 0], 0, 1),
                   (cx, cy), rx, relief, outline=False)
    for side in (-1, 1):
        cv.ellipse(blush, cx + side * rx * 0.55, cy + ry * 0.2, rx * 0.17, ry * 0.07)


def _draw_eyes(cv: _Canvas, p: dict) -> None:
    """Eyes (white, iris, pupil and a catch-light) and brows."""
    cx, cy, rx, ry, relief = _head_geometry(p)
    eyes, brows = p["eyes"], p["brows"]
    ey = cy + eyes["y"]
    white = cv.lit((0.95, 0.94, 0.92), (cx, ey), rx * 0.6, relief * 0.5)
    iris = cv.lit(eyes["iris"], (cx, ey), eyes["rx"], relief * 0.5)
    pupil = cv.lit((0.05, 0.04, 0.04), (cx, ey), eyes["rx"], 0.0, outline=False)
    glint = cv.lit((1.0, 1.0, 1.0), (cx, ey), eyes["rx"], 0.0, outline=False)
    brow = cv.lit(_darker(p["hair"]["colour"], 0.8), (cx, ey), rx, relief * 0.5)
    for side in (-1, 1):
        ex = cx + side * eyes["spacing"]
        cv.ellipse(white, ex, ey, eyes["rx"], eyes["ry"])
        ix, iy = ex + eyes["gaze_x"] * eyes["rx"] * 0.5, ey + eyes["gaze_y"] * eyes["ry"]
        r_iris = eyes["ry"] * 0.95
        cv.ellipse(iris, ix, iy, r_iris, r_iris)
        cv.ellipse(pupil, ix, iy, r_iris * 0.45, r_iris * 0.45)
        cv.ellipse(glint, ix - r_iris * 0.35, iy - r_iris * 0.35, r_iris * 0.22, r_iris * 0.22)
        by = ey - eyes["ry"] - brows["raise"]
        tilt = brows["tilt"] * eyes["rx"] * side
        cv.polyline(brow, [(ex - eyes["rx"] * 1.1, by + tilt), (ex, by - brows["raise"] * 0.3),
                           (ex + eyes["rx"] * 1.1, by - tilt)], brows["thickness"])


def _draw_glasses(cv: _Canvas, p: dict) -> None:
    cx, cy, rx, ry, relief = _head_geometry(p)
    eyes = p["eyes"]
    ey = cy + eyes["y"]
    frame = cv.lit(p["glasses"], (cx, ey), rx, relief * 0.3, outline=False)
    for side in (-1, 1):
        ring = _ellipse_points(cx + side * eyes["spacing"], ey, eyes["rx"] * 1.45, eyes["ry"] * 1.9, n=32)
        cv.polyline(frame, ring, 0.012, closed=True)
    cv.polyline(frame, [(cx - eyes["spacing"] + eyes["rx"] * 1.45, ey),
                        (cx + eyes["spacing"] - eyes["rx"] * 1.45, ey)], 0.012)


def _draw_nose(cv: _Canvas, p: dict) -> None:
    """Only the nose's shadowed underside, like a drawn nose."""
    cx, cy, rx, ry, relief = _head_geometry(p)
    nose, eyes = p["nose"], p["eyes"]
    nose_label = cv.lit(_darker(p["skin"], 0.82), (cx, cy), rx, relief, outline=False)
    ey = cy + eyes["y"]
    tip_y = ey + eyes["ry"] + ry * nose["length"]
    nw = rx * nose["width"]
    cv.polygon(nose_label, np.concatenate([[(cx + nw * 0.15, tip_y - ry * nose["length"] * 0.6)],
                                           _ellipse_points(cx, tip_y, nw, nw * 0.45, -20, 200, n=16)]))


def _draw_mouth(cv: _Canvas, p: dict) -> None:
    cx, cy, rx, ry, relief = _head_geometry(p)
    mouth = p["mouth"]
    my, mw = cy + ry * mouth["y"], rx * mouth["width"]
    lips = cv.lit(mouth["lips"], (cx, my), mw, relief * 0.6)
    if mouth["style"] == "smile":
        cv.ellipse(lips, cx, my - mw * 0.15, mw, mw * 0.5, 0, 180)
        teeth = cv.lit((0.96, 0.95, 0.9), (cx, my), mw, 0.0, outline=False)
        cv.polygon(teeth, _ellipse_points(cx, my - mw * 0.12, mw * 0.8, mw * 0.22, 0, 180))
    elif mouth["style"] == "open":
        cv.ellipse(lips, cx, my, mw * 0.7, mw * 0.45)
        inside = cv.lit((0.3, 0.08, 0.1), (cx, my), mw, 0.0, outline=False)
        cv.ellipse(inside, cx, my, mw * 0.5, mw * 0.28)
    else:
        cv.ellipse(lips, cx, my, mw, mw * 0.18)


def _draw_frame(cv: _Canvas, p: dict) -> None:
    h = p["horizon"]
    relief = p["relief"]
    cv.haze_colour = np.array(p["sky_low"], np.float32)
    # A lighting plane can only scale brightness, so the sky is one hue (the mix of the two
    # colours) running from the top colour's brightness to the horizon colour's.
    sky_top, sky_low = np.array(p["sky_top"]), np.array(p["sky_low"])
    top_l, low_l = float(_LUMA @ sky_top), float(_LUMA @ sky_low)
    sky_colour = (sky_top + sky_low) / 2
    mid_l = float(_LUMA @ sky_colour)
    sky = cv.graded(sky_colour, top_l / mid_l, low_l / mid_l, 0.0, h, step=0.12, outline=False)
    cv.rect(sky, 0, 0, 1, 1)

    sun = p["sun"]
    sun_label = cv.graded(sun["colour"], 1.0, 1.0, outline=False)
    cv.ellipse(sun_label, sun["x"], sun["y"], sun["r"], sun["r"])
    for cloud in p["clouds"]:
        label = cv.lit((0.97, 0.97, 0.97), (cloud["x"], cloud["y"]), cloud["w"], relief * 0.5, outline=False)
        for px, py, pr in cloud["puffs"]:
            cv.ellipse(label, cloud["x"] + px * cloud["w"], cloud["y"] + py * cloud["w"],
                       pr * cloud["w"], pr * cloud["w"] * 0.7)

    xs = np.linspace(0, 1, 33)
    for i, hill in enumerate(p["hills"]):
        ridge = h - hill["height"] * (0.6 + 0.4 * sum(a * np.sin(f * 2 * math.pi * xs + ph)
                                                      for f, ph, a in hill["waves"]) / 1.5)
        label = cv.lit(hill["colour"], (0.5, h - hill["height"]), 0.5, relief * 0.6, outline=i > 0,
                       haze=0.45 - 0.2 * i)
        cv.polygon(label, np.concatenate([np.stack([xs, ridge], 1), [(1.0, h + 0.01), (0.0, h + 0.01)]]))

    ground = cv.graded(p["ground"], 0.9, 1.1, h, 1.0, step=0.1)
    cv.rect(ground, -0.01, h, 1.01, 1.01)

    road = p["road"]
    if road["present"]:
        label = cv.graded(road["colour"], 0.9, 1.1, h, 1.0, step=0.1)
        half = road["width"] / 2
        cv.polygon(label, [(road["x"] - 0.004, h), (road["x"] + 0.004, h), (0.5 + half, 1.0), (0.5 - half, 1.0)])
        paint = cv.graded((0.95, 0.9, 0.6), 1.0, 1.0, outline=False)
        for t0 in np.arange(0.05, 1.0, 0.16):
            t1 = t0 + 0.08
            # Dashes shrink with distance: perspective-correct parameter is quadratic here.
            y0, y1 = h + (1 - h) * t0 ** 2, h + (1 - h) * t1 ** 2
            x0, x1 = road["x"] + (0.5 - road["x"]) * t0 ** 2, road["x"] + (0.5 - road["x"]) * t1 ** 2
            w0, w1 = 0.012 * t0 ** 2, 0.012 * t1 ** 2
            cv.polygon(paint, [(x0 - w0, y0), (x0 + w0, y0), (x1 + w1, y1), (x1 - w1, y1)])

    # Buildings and trees are both sorted far-to-near; interleave them by base line.
    things = [("b", b) for b in p["buildings"]] + [("t", t) for t in p["trees"]]
    for what, thing in sorted(things, key=lambda item: item[1]["base"]):
        haze = 0.35 * max(0.0, 1 - (thing["base"] - h) / 0.3)
        (_draw_building if what == "b" else _draw_tree)(cv, thing, relief, haze)


def _draw_building(cv: _Canvas, b: dict, relief: float, haze: float) -> None:
    x0, x1 = b["x"] - b["width"] / 2, b["x"] + b["width"] / 2
    y1, y0 = b["base"], b["base"] - b["height"]
    wall = cv.lit(b["colour"], (b["x"], y0 + b["height"] / 2), b["width"], relief, haze=haze)
    cv.rect(wall, x0, y0, x1, y1)
    roof = cv.lit(b["roof_colour"], (b["x"], y0), b["width"], relief, haze=haze)
    if b["roof"] == "gable":
        cv.polygon(roof, [(x0 - b["width"] * 0.06, y0), (b["x"], y0 - b["width"] * 0.45),
                          (x1 + b["width"] * 0.06, y0)])
    else:
        cv.rect(roof, x0 - b["width"] * 0.04, y0 - b["height"] * 0.05, x1 + b["width"] * 0.04, y0)
    dark = cv.lit(b["window_colour"], (b["x"], y0), b["width"], relief * 0.3, outline=False, haze=haze)
    lit = cv.graded((1.0, 0.85, 0.45), 1.0, 1.0, outline=False)
    cw, rh = b["width"] / b["cols"], b["height"] * 0.85 / b["rows"]
    windows = {dark: [], lit: []}
    for r in range(b["rows"]):
        for c in range(b["cols"]):
            wx, wy = x0 + (c + 0.25) * cw, y0 + b["height"] * 0.08 + (r + 0.2) * rh
            windows[lit if b["lit"][r * b["cols"] + c] else dark].append(
                [(wx, wy), (wx + cw * 0.5, wy), (wx + cw * 0.5, wy + rh * 0.55), (wx, wy + rh * 0.55)])
    for label, polys in windows.items():
        if polys:
            cv.polygon(label, *polys)


def _draw_tree(cv: _Canvas, t: dict, relief: float, haze: float) -> None:
    s, x, base = t["size"], t["x"], t["base"]
    trunk = cv.lit((0.4, 0.27, 0.15), (x, base - s * 0.2), s * 0.3, relief, haze=haze)
    cv.rect(trunk, x - s * 0.06, base - s * 0.45, x + s * 0.06, base)
    leaves = cv.lit(t["leaves"], (x, base - s * 0.7), s * 0.5, relief, haze=haze)
    if t["pine"]:
        for k in range(3):
            top = base - s * (1.3 - k * 0.25)
            cv.polygon(leaves, [(x, top), (x + s * (0.28 + 0.08 * k), top + s * 0.45),
                                (x - s * (0.28 + 0.08 * k), top + s * 0.45)])
    else:
        cv.ellipse(leaves, x, base - s * 0.75, s * 0.4, s * 0.42)
        cv.ellipse(leaves, x - s * 0.22, base - s * 0.55, s * 0.25, s * 0.22)
        cv.ellipse(leaves, x + s * 0.22, base - s * 0.55, s * 0.25, s * 0.22)


def _scene(kind: str, params: dict, side: int) -> _Canvas:
    if kind == "faces":
        cv = _Canvas(side, params["light_angle"])
        _draw_face(cv, params)
    else:
        sun = params["sun"]
        cv = _Canvas(side, math.degrees(math.atan2(sun["y"] - 0.5, sun["x"] - 0.5)))
        _draw_frame(cv, params)
    return cv


# ----------------------------------------------------------------------------------
# The two looks
# ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _grid(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates as image fractions."""
    t = ((np.arange(side, dtype=np.float32) + 0.5) / side)
    return t[None, :].repeat(side, 0), t[:, None].repeat(side, 1)


@functools.lru_cache(maxsize=8)
def _vignette(side: int) -> np.ndarray:
    x, y = _grid(side)
    r2 = ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 2  # 1 in the corners
    return _rgb((1 - _MOVIE_VIGNETTE * r2 ** 1.5).astype(np.float32))


def _boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels next to a shape drawn *earlier*: the outline sits on the front shape's edge."""
    edge = np.zeros(labels.shape, bool)
    edge[1:] |= labels[:-1] < labels[1:]
    edge[:-1] |= labels[1:] < labels[:-1]
    edge[:, 1:] |= labels[:, :-1] < labels[:, 1:]
    edge[:, :-1] |= labels[:, 1:] < labels[:, :-1]
    return edge


def _saturate(rgb: np.ndarray, amount: float) -> np.ndarray:
    luma = rgb @ _LUMA
    return luma[..., None] + amount * (rgb - luma[..., None])


def _rgb(gray: np.ndarray) -> np.ndarray:
    """Single channel to three; elementwise maths on equal shapes is much faster than broadcasting."""
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def _lookups(cv: _Canvas, labels: np.ndarray, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel colour and (unclipped) lighting for a label map at its own resolution."""
    table = cv.table()
    lut = np.zeros((1, 256, 3), np.float32)
    lut[0, :len(table)] = colours
    colour = cv2.LUT(cv2.merge([labels] * 3), lut)  # much faster than numpy fancy indexing
    x, y = _grid(labels.shape[0])
    shade = np.take(table[:, 3], labels) * x + np.take(table[:, 4], labels) * y + np.take(table[:, 5], labels)
    return colour, shade


def _game(cv: _Canvas, size: int) -> np.ndarray:
    table = cv.table()
    offset = _SUPERSAMPLE // 2
    labels = np.ascontiguousarray(cv.labels[offset::_SUPERSAMPLE, offset::_SUPERSAMPLE])
    colour, shade = _lookups(cv, labels, np.clip(_saturate(table[:, :3], _GAME_SATURATION), 0, 1))
    step = np.take(table[:, 6], labels)
    shade = np.clip(1 + np.round((shade - 1) / step) * step, 0.55, 1.3)  # cel shading: hard tone steps
    image = colour * _rgb(shade)
    edge = _boundaries(labels) & (np.take(table[:, 7], labels) > 0)
    if size >= 256:  # keep outlines about 1/128 of the image wide
        edge = cv2.dilate(edge.astype(np.uint8), np.ones((size // 128, size // 128), np.uint8)) > 0
    image[edge] = _GAME_INK
    return image


def _movie(cv: _Canvas, size: int, grain: bool, seed: int) -> np.ndarray:
    table = cv.table()
    colour, shade = _lookups(cv, cv.labels, table[:, :3] + table[:, 9:10] * (cv.haze_colour - table[:, :3]))
    # Soft shoulder instead of clipping, so lit sides roll off like film.
    shade = np.maximum(shade, 0.3) / (1 + 0.6 * np.maximum(shade - 1, 0))
    image = cv2.resize(colour * _rgb(shade), (size, size), interpolation=cv2.INTER_AREA)
    px = size / 128
    image = cv2.GaussianBlur(image, (0, 0), _MOVIE_BLUR * px)

    labels = np.ascontiguousarray(cv.labels[::_SUPERSAMPLE, ::_SUPERSAMPLE])
    # Soft contact shadows where the game look draws outlines: creases and occlusion.
    edge = (_boundaries(labels) & (np.take(table[:, 7], labels) > 0)).astype(np.float32)
    image *= _rgb(1 - _MOVIE_CONTACT_SHADOW * cv2.GaussianBlur(edge, (0, 0), px))

    background = np.take(table[:, 8], labels)
    if background.any():  # shallow depth of field: the backdrop is out of focus
        mask = _rgb(cv2.GaussianBlur(background, (0, 0), px))
        image += (cv2.GaussianBlur(image, (0, 0), _MOVIE_DEPTH_BLUR * px) - image) * mask

    bright = np.maximum(image @ _LUMA - 0.7, 0) * (_MOVIE_BLOOM / 0.3)
    bloom = cv2.GaussianBlur(bright, (0, 0), 5 * px)
    image += cv2.merge([bloom, bloom * 0.85, bloom * 0.65])  # warm glow

    # Film grade: desaturate, tint shadows teal and highlights warm, lift the blacks.
    luma = np.clip(image @ _LUMA, 0, 1)
    image = cv2.transform(image, _MOVIE_DESATURATE)
    shadows, highlights = (1 - luma) ** 2, luma ** 2
    image += cv2.merge([s * shadows + h * highlights
                        for s, h in zip(_MOVIE_SHADOW_TINT, _MOVIE_HIGHLIGHT_TINT, strict=False)])
    image = (_MOVIE_BLACK_LIFT + (1 - _MOVIE_BLACK_LIFT) * image) * _vignette(size)
    if grain:
        # Mostly luminance grain with a little colour, strongest in the mid-tones as with film.
        # Uniform noise (scaled to unit variance) looks like Gaussian grain and is cheaper.
        rng = np.random.default_rng(seed)
        mono = rng.random((size, size), np.float32) - 0.5
        colour_noise = rng.random((size, size, 3), np.float32) - 0.5
        amplitude = (_MOVIE_GRAIN * math.sqrt(12)) * (0.5 + 2 * luma * (1 - luma))
        image += (_rgb(mono) + 0.35 * colour_noise) * _rgb(amplitude)
    return image


def render(kind: str, params: dict, look: str, image_size: int = 128, grain: bool = True,
           seed: int = 0) -> np.ndarray:
    """Draw one scene as a uint8 H×W×3 **RGB** image in the ``game`` or ``movie`` look.

    ``grain`` and ``seed`` only affect the movie look: ``seed`` drives the film grain,
    and ``grain=False`` gives the deterministic oracle target.
    """
    _check_kind(kind)
    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    _check_size(image_size)
    return _shade_scene(_scene(kind, params, image_size * _SUPERSAMPLE), look, image_size, grain, seed)


def _shade_scene(cv: _Canvas, look: str, image_size: int, grain: bool, seed: int) -> np.ndarray:
    image = _game(cv, image_size) if look == "game" else _movie(cv, image_size, grain, seed)
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _check_size(image_size: int) -> None:
    if not side_fits(image_size):
        raise ValueError(f"image_size must be a multiple of 8 from 16 to {MAX_SIDE}, got {image_size}")


# ----------------------------------------------------------------------------------
# Datasets on disk
# ----------------------------------------------------------------------------------

def _split_counts(count: int) -> dict[str, int]:
    if count < 10:
        raise ValueError(f"count must be at least 10 images per domain (8:1:1 train/val/test split), "
                         f"got {count}")
    return {"train": count - 2 * (count // 10), "val": count // 10, "test": count // 10}


# Each stream of scenes has its own seed branch, so the k-th scene of a stream does not
# depend on the count, and unpaired game/movie images never share parameters.
_STREAMS = {"train/game": 0, "train/movie": 1, "val/game": 2, "val/movie": 3, "val/oracle": 4, "test": 5}


def _scene_seeds(kind: str, seed: int, stream: str, index: int) -> tuple[int, int]:
    """(scene seed, grain seed) for one image."""
    sequence = np.random.SeedSequence([seed, KINDS.index(kind), _STREAMS[stream], index])
    scene_seed, grain_seed = sequence.generate_state(2, np.uint64)
    return int(scene_seed), int(grain_seed)


def _jobs(kind: str, counts: dict[str, int]):
    """(stream, index, [(path, domain, look, grain, role), ...]) for every scene to draw."""
    for split in ("train", "val"):
        for domain in LOOKS:
            for k in range(counts[split]):
                yield f"{split}/{domain}", k, [(f"{split}/{domain}/{k:05d}.png", domain, domain, True, None)]
    for k in range(counts["val"]):
        yield "val/oracle", k, [(f"val/oracle/game/{k:05d}.png", "game", "game", True, "oracle_input"),
                                (f"val/oracle/movie/{k:05d}.png", "movie", "movie", False, "oracle_target")]
    for k in range(counts["test"]):
        yield "test", k, [(f"test/game/{k:05d}.png", "game", "game", True, None),
                          (f"test/movie/{k:05d}.png", "movie", "movie", True, None),
                          (f"test/movie_clean/{k:05d}.png", "movie", "movie", False, "oracle_target")]


def frame_render_side(frame_size: tuple[int, int]) -> int:
    """The square side a frame_size (width, height) is cut from: its longer side, up to a multiple of 8."""
    return -(-max(frame_size) // 8) * 8


def write_dataset(kind: str, out_dir, count: int, image_size: int = 128, seed: int = 0,
                  progress: bool = True, *, overwrite: bool = False, command: str | None = None,
                  frame_size: tuple[int, int] | None = None) -> pathlib.Path:
    """Write ``count`` images per domain in the project's dataset layout; returns ``out_dir``.

    Train and val images are unpaired (independent scenes per domain); ``val/oracle`` and
    ``test`` are paired, with grain-free movie renders as oracle targets. The folder
    appears atomically: it is built next to ``out_dir`` and renamed into place.
    frame_size (width, height) keeps frames at a display size instead of a square: each scene is
    drawn as a square of the longer side and its middle width × height kept, the same cut in
    every look (image_size is then that square's side).
    """
    _check_kind(kind)
    if frame_size is not None:
        image_size = frame_render_side(frame_size)
    _check_size(image_size)
    counts = _split_counts(count)
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass overwrite=True (--overwrite) to replace it")
    if command is None:
        command = (f"training.synth.write_dataset({kind!r}, {str(out_dir)!r}, {count}, "
                   f"image_size={image_size}, seed={seed})")
    with folder_under_construction(out_dir, overwrite=overwrite) as tmp:
        images, test_pairs = _write_images(kind, tmp, counts, image_size, seed, progress, frame_size)
        from training.metrics import psnr, ssim, uint8_to_unit  # torch is only needed here

        game, clean = (uint8_to_unit(np.stack(images)) for images in zip(*test_pairs, strict=False))
        manifest = {
            "schema": 1, "source": "synthetic", "kind": kind, "generator": "training.synth",
            "synth_version": SYNTH_VERSION, "paired": True, "image_size": image_size, "seed": seed,
            **({"frame_size": list(frame_size)} if frame_size else {}),
            "channel_order_on_disk": "png", "command": command,
            "counts": {split: {domain: n for domain in LOOKS} for split, n in counts.items()},
            "oracle": {"val": {"game": "val/oracle/game", "movie": "val/oracle/movie"},
                       "test": {"game": "test/game", "movie": "test/movie_clean"}},
            "do_nothing": {"test": {"ssim": round(float(ssim(game, clean).mean()), 4),
                                    "psnr": round(float(psnr(game, clean).mean()), 3)}},
            "images": images,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir


def _cut(image: np.ndarray, frame_size: tuple[int, int] | None) -> np.ndarray:
    """The middle frame_size (width, height) of a square render (the whole image without one)."""
    if frame_size is None:
        return image
    width, height = frame_size
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return np.ascontiguousarray(image[top:top + height, left:left + width])


def _write_images(kind: str, root: pathlib.Path, counts: dict[str, int], image_size: int, seed: int,
                  progress: bool, frame_size: tuple[int, int] | None = None
                  ) -> tuple[list[dict], list[tuple[np.ndarray, np.ndarray]]]:
    total = 2 * counts["train"] + 4 * counts["val"] + 3 * counts["test"]
    images, test_pairs = [], []
    with tqdm(total=total, desc=f"synth {kind}", unit="img", disable=not progress) as bar:
        for stream, index, outputs in _jobs(kind, counts):
            scene_seed, grain_seed = _scene_seeds(kind, seed, stream, index)
            # Draw once, shade in every look needed: same as render() for each, but faster.
            scene = _scene(kind, sample_params(kind, np.random.default_rng(scene_seed)), image_size * _SUPERSAMPLE)
            rendered = {}
            for path, domain, look, grain, role in outputs:
                image = _cut(_shade_scene(scene, look, image_size, grain, grain_seed), frame_size)
                rendered[path.split("/")[1]] = image
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                # Encoded here and written by Python, so a full disk is a real OSError, not a False.
                ok, encoded = cv2.imencode(".png", image[..., ::-1])  # cv2 writes BGR
                if not ok:
                    raise ValueError(f"could not encode {target}")
                target.write_bytes(encoded.tobytes())
                entry = {"path": path, "split": path.split("/")[0], "domain": domain, "scene_seed": scene_seed}
                if role:
                    entry["role"] = role
                if look == "movie" and grain:
                    entry["grain_seed"] = grain_seed
                images.append(entry)
                bar.update()
            if stream == "test":
                test_pairs.append((rendered["game"], rendered["movie_clean"]))
    return images, test_pairs


def cached_path(kind: str, count: int, image_size: int = 128, seed: int = 0, root="data") -> pathlib.Path:
    return pathlib.Path(root) / f"synth-{kind}-{image_size}px-n{count}-s{seed}-v{SYNTH_VERSION}"


def cached_dataset(kind: str, count: int, image_size: int = 128, seed: int = 0, root="data") -> pathlib.Path:
    """The dataset folder for these settings under ``root``, generated on first use."""
    path = cached_path(kind, count, image_size, seed, root)
    if (path / "manifest.json").exists():
        print(f"synth: reusing {path}")
        return path
    print(f"synth: generating {path} ({count} {kind} images per domain)")
    try:
        write_dataset(kind, path, count, image_size, seed)
    except (FileExistsError, LivestyleError):  # another process (a torchrun rank) wrote it first
        if not (path / "manifest.json").exists():
            raise
    return path


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m training.synth",
        description="Write a synthetic paired game/movie dataset (unpaired train/val, paired "
                    "oracle val and test sets with grain-free movie targets).",
        epilog="example: python -m training.synth faces --out data/synth-faces --count 1000",
    )
    parser.add_argument("kind", help=f"what to draw: {' or '.join(KINDS)}")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="dataset folder to create")
    parser.add_argument("--count", required=True, type=bounded_int(10, 10**6),
                        help="images per domain, at least 10 (split 8:1:1 into train/val/test)")
    parser.add_argument("--image-size", type=bounded_int(16, MAX_SIDE), default=128,
                        help="side in pixels, a multiple of 8 (default 128)")
    parser.add_argument("--frame-size", metavar="WxH", help="keep frames at a display size instead of squares, "
                        "e.g. 640x360: each scene is drawn as a square of the longer side and its middle kept "
                        "(for python -m training.fit --crop); replaces --image-size")
    parser.add_argument("--seed", type=bounded_int(0, 2**32 - 1), default=0, help="dataset seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already reported
        return int(stop.code or 0)
    configure_logging(args)
    return synthesize(args, parser.prog, argv)


def declare(args) -> Declaration:
    """training.synth writes one new data set folder, --out (replaced only with --overwrite); it reads nothing."""
    return Declaration("training.synth", {}, (Output("--out", args.out, folder=True),), overwrite=args.overwrite)


def synthesize(args, prog: str, argv) -> int:
    problem, frame_size = None, None
    if args.frame_size is not None:
        try:
            frame_size = parse_size(args.frame_size, "--frame-size", multiple=1)
        except LivestyleError as error:
            problem = str(error)
    if problem is not None:
        pass  # the --frame-size message above
    elif args.kind not in KINDS:
        problem = f"unknown kind {args.kind!r}; use one of: {', '.join(KINDS)}"
    elif args.count < 10:
        problem = f"--count {args.count} is too small; use at least 10 images per domain (split 8:1:1)"
    elif not side_fits(args.image_size):
        problem = f"--image-size {args.image_size} is invalid; use a multiple of 8 (e.g. 128)"
    if problem is None:
        try:
            declare(args).check()
        except LivestyleError as error:
            problem = str(error)
    if problem:
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return 2

    command = "python -m training.synth " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    try:
        with interruptible():
            out = write_dataset(args.kind, args.out, args.count, args.image_size, args.seed, progress=not args.quiet,
                                overwrite=args.overwrite, command=command, frame_size=frame_size)
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM: the folder being built is removed, an old --out kept
        return interrupted(f"nothing was written to {args.out}")
    except LivestyleError as error:  # something the user can fix: 2, like the checks above
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # the machine failed mid-run (e.g. the disk filled up while writing images): 1
        print(f"{prog}: error: {describe(error, f'--out {args.out}')}", file=sys.stderr)
        return 1
    manifest = json.loads((out / "manifest.json").read_text())
    score = manifest["do_nothing"]["test"]
    counts = manifest["counts"]
    shape = f"{frame_size[0]}x{frame_size[1]} frames" if frame_size else f"{args.image_size}px"
    print(f"wrote {out}: {args.kind}, {shape}, per domain train {counts['train']['game']}, "
          f"val {counts['val']['game']}, test {counts['test']['game']} (+ paired oracle val/test)")
    print(f"do-nothing baseline on test (game vs clean movie): SSIM {score['ssim']:.3f}, PSNR {score['psnr']:.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
