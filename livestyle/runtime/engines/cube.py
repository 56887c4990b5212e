"""A look users can take anywhere: a colour-look model baked into lookup tables other programs read
(`python scripts/build_engine.py --format cube`).

- `<name>.cube`: the Adobe/Resolve 3D LUT format (LUT_3D_SIZE N, DOMAIN_MIN/MAX 0..1, one "r g b" line
  per lattice point, red changing fastest) — OBS's Apply LUT filter, DaVinci Resolve and ffmpeg's
  `lut3d` filter read it.
- `<name>.png`: ReShade's LUT strip as its stock LUT shader reads it — 32 tiles of 32×32 side by side
  (1024×32): the tile is blue, x within a tile red, y green.
- `<name>.cube.json`: the sidecar — what it was made from, and the spatial settings of the look
  (none yet: the colour part is all a table can hold).

Only the colour part of a model is a table: a model without one is refused. These files are not
engines: the runtime's engine finder never picks them up.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import torch

from livestyle.core import __version__
from livestyle.core.errors import LivestyleError
from livestyle.core.files import check_apart, write_bytes, write_json, write_text
from livestyle.model.film import FilmLook
from livestyle.model.generator import LookPyramid
from livestyle.model.loaded import Model
from livestyle.model.look import ColourLook, apply_to_unit, unit_grid

CUBE_SIZES = (33, 65)
# 65 by default: ffmpeg's lut3d over a real frame stays within 2 levels of the look itself for a moderate
# look at 65 points, 4 at 33 (tests/test_cube.py measures it); clamps inside a cell are what a coarser
# table misses. A 65-point .cube is about 7 MB.
STRIP_TILE = 32  # ReShade's LUT.fx default: fLUT_TileSizeXY 32, fLUT_TileAmount 32


def colour_look(model: Model) -> ColourLook:
    """The model's colour look; LivestyleError (one line) for a model without one."""
    if isinstance(model.module, ColourLook):
        return model.module
    if isinstance(model.module, FilmLook):
        return model.module.colour
    if isinstance(model.module, LookPyramid):  # its look's colour; the network after it is not a table
        return model.module.look.colour
    raise LivestyleError(f"--format cube: {model.label} has no colour look (it is a "
                         f"{model.architecture.get('class', 'network')}, whose picture depends on more than each "
                         f"pixel's colour); a .cube holds a colour-look model (livestyle.model.look)")


def lattice(look: ColourLook, points: int) -> np.ndarray:
    """The look at every point of a points³ lattice over [0, 1]: (blue, green, red, 3) RGB values, so that
    reading it in C order walks red fastest, then green, then blue — the .cube order."""
    grid = unit_grid(points)  # 1×3×points×points²: r over rows, (g, b) over columns
    with torch.no_grad():
        out = apply_to_unit(look.float().eval(), grid)[0]  # 3×points×points²
    rgb = out.reshape(3, points, points, points).permute(3, 2, 1, 0)  # (b, g, r, channel)
    return rgb.contiguous().numpy().astype(np.float64)


def cube_text(look: ColourLook, points: int, title: str) -> str:
    table = lattice(look, points).reshape(-1, 3)
    lines = [f'TITLE "{title}"', f"LUT_3D_SIZE {points}", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    lines += [f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in table]
    return "\n".join(lines) + "\n"


def reshade_strip(look: ColourLook) -> np.ndarray:
    """1024×32 BGR uint8: tile b (blue), column r (red), row g (green)."""
    table = lattice(look, STRIP_TILE)  # (b, g, r, rgb)
    strip = table.transpose(1, 0, 2, 3).reshape(STRIP_TILE, STRIP_TILE * STRIP_TILE, 3)  # (g, b·r, rgb)
    return np.ascontiguousarray(np.rint(np.clip(strip, 0, 1) * 255).astype(np.uint8)[..., ::-1])


def build_cube(model: Model, out_dir: Path, points: int = 65, log=print) -> Path:
    """Write <name>.cube (65 points unless asked otherwise), <name>.png (ReShade) and <name>.cube.json into
    out_dir; the .cube's path."""
    if points not in CUBE_SIZES:
        raise LivestyleError(f"a .cube of {points} points: use one of {', '.join(map(str, CUBE_SIZES))}")
    look = colour_look(model)
    name = f"{model.direction}-{model.sha256[:12]}-look{points}"
    cube, strip, sidecar = out_dir / f"{name}.cube", out_dir / f"{name}.png", out_dir / f"{name}.cube.json"
    check_apart({"the .cube": cube, "the ReShade strip": strip, "its sidecar": sidecar}, {"--weights": model.path})
    log(f"baking the colour look into a {points}³ table and ReShade's {STRIP_TILE * STRIP_TILE}×{STRIP_TILE} strip ...")
    write_text(cube, cube_text(look, points, f"livestyle {model.direction} {model.sha256[:12]}"))
    ok, png = cv2.imencode(".png", reshade_strip(look))
    if not ok:
        raise LivestyleError(f"cannot encode the ReShade strip for {strip}")
    write_bytes(strip, png.tobytes())
    write_json(sidecar, {
        "format": "cube", "files": {"cube": cube.name, "reshade": strip.name}, "lut_size": points,
        "reshade_tiles": {"tile": STRIP_TILE, "amount": STRIP_TILE},
        "weights": {"path": str(model.path.resolve()) if model.path else None, "sha256": model.sha256,
                    "direction": model.direction},
        # The look's effects a table cannot hold, applied before it (livestyle.model.film's order).
        "architecture": model.architecture,
        "spatial": (model.module.settings() if isinstance(model.module, FilmLook) else
                    model.module.look.settings() if isinstance(model.module, LookPyramid) else {}),
        **({"note": "the model's network after its look (a pyramid) is not in the table"}
           if isinstance(model.module, LookPyramid) else {}),
        "built_at": datetime.now().astimezone().isoformat(timespec="seconds"), "livestyle": __version__,
    })
    for path in (cube, strip, sidecar):
        log(f"  wrote {path}")
    return cube
