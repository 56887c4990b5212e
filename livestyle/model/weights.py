"""What a weights file says: the safetensors format livestyle writes, read and checked once.

Nothing in such a file is trusted: the architecture in its metadata is checked field by field and the
tensor names and shapes against the network it describes, from the header alone, before any network is
built or any tensor read."""
from __future__ import annotations

import contextlib
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import nn

from livestyle.core.checks import MAX_FEATURES, FileCheck
from livestyle.core.errors import LivestyleError
from livestyle.core.files import describe, sha256_file, write_bytes
from livestyle.faces.crop import FACE_CROP, FACES_DEFAULT_SIDE, CropRule
from livestyle.model.generator import Generator, Network, build_generator
from livestyle.model.pyramid import MAX_LEVELS

WEIGHTS_FORMAT = "livestyle-generator/1"
WEIGHTS_FILE = "game2movie.safetensors"  # what a training run leaves for the runtime
KINDS = ("faces", "frames")  # what a model was trained on: face crops or whole frames
# The pyramid wraps the first; a film look holds a colour look.
CLASSES = ("Generator", "PyramidGenerator", "ColourLook", "FilmLook", "LookPyramid")
DIRECTIONS = ("game2movie", "movie2game")
FLOATS = ("F16", "BF16", "F32", "F64")
MAX_FACES_SIDE = 1024  # a faces model's recorded training side: crops are small (the report: 64 to 256)
MAX_SIZE_MULTIPLE = 256  # the coarsest grid an inference size may be held to (the plain generator: 8)


def save_generator(generator: Network, path: str | Path, direction: str, extra: dict | None = None) -> None:
    """Write weights + self-describing metadata atomically (livestyle.core.files: a private temporary
    file, then os.replace), so a crash or a full disk never leaves half a weights file."""
    metadata = {
        "format": WEIGHTS_FORMAT,
        "architecture": json.dumps(generator.architecture()),
        "direction": direction,
        "channel_order": "rgb",
        "value_range": "[-1, 1]",
        "size_multiple": str(generator.size_multiple),
    }
    for key, value in (extra or {}).items():
        metadata[key] = value if isinstance(value, str) else json.dumps(value)
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    write_bytes(path, save(state, metadata=metadata))


class WeightsError(LivestyleError, ValueError):
    """Weights that cannot be used; a ValueError too, for callers that caught that before."""


FIX = f"pass the {WEIGHTS_FILE} written by python -m training.fit"


class _WeightsCheck(FileCheck):
    def fail(self, problem: str) -> WeightsError:
        return WeightsError(str(super().fail(problem)))


def check_metadata(path: Path, metadata: dict) -> dict:
    """The metadata's architecture, checked field by field before anything is built from it: a
    damaged or foreign file must not get as far as allocating a network of its choosing. The
    direction is checked too: it becomes part of engine file names."""
    check = _WeightsCheck(path, FIX)
    if metadata.get("format") != WEIGHTS_FORMAT:
        raise WeightsError(f"{path} is not livestyle generator weights (metadata format "
                           f"{metadata.get('format')!r}, expected {WEIGHTS_FORMAT!r}); {FIX}")
    text = metadata.get("architecture")
    if text is None:
        raise check.fail("its metadata has no 'architecture'")
    try:
        architecture = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise check.fail("its metadata 'architecture' is not valid JSON") from None
    check.mapping(architecture, "its metadata 'architecture'")
    check.get(metadata, "direction", str, required=False, choices=DIRECTIONS, name="direction")
    kind = check.get(architecture, "class", str, choices=CLASSES, name="architecture.class")
    checked: dict = {"class": kind}
    if kind in ("ColourLook", "FilmLook", "LookPyramid"):
        checked["curve_points"] = check.get(architecture, "curve_points", int, low=2, high=256,
                                            name="architecture.curve_points")
    if kind not in ("ColourLook", "FilmLook"):
        checked["features"] = check.get(architecture, "features", int, low=1, high=MAX_FEATURES,
                                        name="architecture.features")
        checked["upsample"] = check.get(architecture, "upsample", str, choices=("deconv", "resize"),
                                        name="architecture.upsample")
    if kind == "Generator":
        checked["residual"] = check.get(architecture, "residual", bool, required=False, default=False,
                                        name="architecture.residual")
    elif kind in ("PyramidGenerator", "LookPyramid"):
        checked["levels"] = check.get(architecture, "levels", int, low=1, high=MAX_LEVELS, name="architecture.levels")
        checked["band_features"] = check.get(architecture, "band_features", int, low=1, high=MAX_FEATURES,
                                             name="architecture.band_features")
    size_multiple(path, metadata, checked)
    trained_on(path, metadata)
    return checked


def size_multiple(path: Path, metadata: dict, architecture: dict | None = None) -> int:
    """What the sides of an inference size must be a multiple of, as the weights declare it (their
    architecture's own, or a coarser multiple of it); the architecture's own where they do not say:
    8 for the plain Generator (it halves the image three times), 1 for a PyramidGenerator (it pads)."""
    if architecture is None:
        architecture = check_metadata(path, metadata)
    own = Generator.size_multiple if architecture["class"] == "Generator" else 1
    text = metadata.get("size_multiple", str(own))
    if not (_whole_number(text, MAX_SIZE_MULTIPLE) and int(text) % own == 0):
        raise _WeightsCheck(path, FIX).fail(f"field 'size_multiple' is {text!r}, not a multiple of {own} (the "
                                            f"generator halves the image three times) from 1 to {MAX_SIZE_MULTIPLE}")
    return int(text)


def _whole_number(text, high: int) -> bool:
    """Metadata text that is a whole number in [1, high] (metadata values are strings)."""
    return isinstance(text, str) and text.isascii() and text.isdigit() and 0 < int(text) <= high


def trained_on(path: Path, metadata: dict) -> str:
    """"faces" or "frames": the weights' `kind`, else their training preset, else frames (whole frames
    is what a model that does not say was made for: the demo model, older runs)."""
    kind = _WeightsCheck(path, FIX).get(metadata, "kind", str, required=False, choices=KINDS)
    if kind is not None:
        return kind
    return "faces" if metadata.get("preset") == "faces" else "frames"


def face_crops(path: Path, metadata: dict) -> tuple[CropRule, int | None]:
    """A faces model's crop rule and training size (the side its crops are resized to): what its
    weights record, else the shared rule and no recorded size (runs from before they said)."""
    check = _WeightsCheck(path, FIX)
    rule = FACE_CROP
    if "crop_rule" in metadata:
        try:
            value = json.loads(metadata["crop_rule"])
        except ValueError:
            raise check.fail("field 'crop_rule' is not valid JSON") from None
        rule = CropRule.from_metadata(value, check)
    size = None
    if "image_size" in metadata:
        text = metadata["image_size"]
        if not _whole_number(text, MAX_FACES_SIDE):
            raise check.fail(f"field 'image_size' is {text!r}, not a face crop's side in pixels (1 to "
                             f"{MAX_FACES_SIDE})")
        size = int(text)
    return rule, size


def faces_setup(path: str | Path) -> tuple[CropRule, int]:
    """A faces model's crop rule and the side its crops run at (its training size; training's default
    for weights that do not record it)."""
    info = read_weights_info(path)
    return info.crop_rule, info.faces_side


def check_tensors(path: Path, handle, architecture: dict) -> None:
    """The file's tensor names, shapes and types against the network its metadata describes, read
    from the header alone: nothing is allocated for a file that does not fit."""
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in build_generator(architecture).state_dict().items()}
    found = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    missing, extra = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    wrong = sorted(name for name in expected.keys() & found.keys() if expected[name] != found[name])
    described = f"{architecture['class']}({', '.join(f'{k}={v}' for k, v in architecture.items() if k != 'class')})"
    if missing or extra or wrong:
        details = []
        if missing:
            details.append(f"{len(missing)} tensor(s) missing, e.g. {missing[0]}")
        if extra:
            details.append(f"{len(extra)} unexpected, e.g. {extra[0]}")
        if wrong:
            details.append(f"{wrong[0]} is {list(found[wrong[0]])}, expected {list(expected[wrong[0]])}"
                           + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
        raise WeightsError(f"{path}: the weights do not fit the architecture in its metadata, {described} "
                           f"({'; '.join(details)}); the file is damaged or was not written by livestyle's "
                           f"save_generator; {FIX}")
    for name in found:
        dtype = handle.get_slice(name).get_dtype()
        if dtype not in FLOATS:
            raise WeightsError(f"{path}: tensor {name} holds {dtype}, not floating-point weights; {FIX}")


@contextlib.contextmanager
def open_weights(path: Path):
    """safe_open on a weights file, every failure to read it one WeightsError line naming the file."""
    if not path.is_file():
        raise WeightsError(f"generator weights not found: {path}; {FIX}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            yield handle
    except LivestyleError:
        raise
    except OSError as error:
        raise WeightsError(describe(error, path, "cannot read")) from None
    except Exception as error:  # noqa: BLE001 — the safetensors parser raises its own types for damaged files
        message = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise WeightsError(f"{path} is not a readable .safetensors file ({message}); {FIX}") from None


@dataclass(frozen=True)
class WeightsInfo:
    """What one weights file says, read from its header and checked once, field by field (see
    check_metadata): the one view of a .safetensors file that the runtime, the engine builder and
    training share. Nothing else parses a weights file's metadata."""
    path: Path
    metadata: dict          # as stored (strings): what the runtime does not use (preset, recipe) stays readable
    architecture: dict      # checked: class, then features, upsample and residual or levels and band_features
    #                         (the generators) or curve_points (the colour look)
    direction: str          # game2movie or movie2game
    kind: str               # faces or frames: what it was trained on
    size_multiple: int      # inference sides are multiples of this (8 for the plain generator, 1 for a pyramid)

    @classmethod
    def from_metadata(cls, path: Path, metadata: dict) -> "WeightsInfo":
        architecture = check_metadata(path, metadata)
        if metadata.get("channel_order", "rgb") != "rgb":
            raise WeightsError(f"{path}: channel order {metadata['channel_order']!r} in its metadata; "
                               f"the runtime only knows 'rgb'")
        kind = trained_on(path, metadata)
        if kind == "faces":
            face_crops(path, metadata)  # its crop side and rule, before anything is built at that size
        return cls(path, metadata, architecture, metadata.get("direction", "game2movie"), kind,
                   size_multiple(path, metadata, architecture))

    @functools.cached_property
    def _face_crops(self) -> tuple[CropRule, int | None]:
        return face_crops(self.path, self.metadata)  # checked once more: cheap, and the header's own

    @property
    def crop_rule(self) -> CropRule:
        """A faces model's crop rule (the shared rule where the weights do not record one)."""
        return self._face_crops[0]

    @property
    def image_size(self) -> int | None:
        """A faces model's training side, where recorded."""
        return self._face_crops[1]

    @property
    def faces_side(self) -> int:
        """The side a faces model's crops run at: its training size, else training's default."""
        return self.image_size or FACES_DEFAULT_SIDE

    @functools.cached_property
    def sha256(self) -> str:
        """Of the whole file: the key of its engines and of the backend cache (read when first asked)."""
        try:
            return sha256_file(self.path)
        except OSError as error:
            raise WeightsError(describe(error, self.path, "cannot read")) from None


def read_weights_info(path: str | Path) -> WeightsInfo:
    """A weights file's WeightsInfo, from its header alone (no tensor is loaded)."""
    path = Path(path)
    with open_weights(path) as handle:
        metadata = dict(handle.metadata() or {})
    return WeightsInfo.from_metadata(path, metadata)


def read_metadata(path: str | Path) -> dict:
    """The checked metadata of a weights file, read from its header alone (no tensor is loaded)."""
    return read_weights_info(path).metadata


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, WeightsInfo]:
    """Rebuild a generator from a .safetensors file written by save_generator, with what the file says;
    WeightsError (one line naming the file and the fix) for anything else."""
    path = Path(path)
    with open_weights(path) as handle:
        info = WeightsInfo.from_metadata(path, dict(handle.metadata() or {}))
        check_tensors(path, handle, info.architecture)
        state = {name: handle.get_tensor(name) for name in handle.keys()}
    bad = next((name for name, tensor in state.items() if not torch.isfinite(tensor).all()), None)
    if bad is not None:  # a diverged run's weights would paint every frame black or white
        raise WeightsError(f"{path} holds NaN or infinite values (tensor {bad}): its run diverged or the file is "
                           f"damaged; use another run's weights or train again (python -m training.fit)")
    generator = build_generator(info.architecture)
    generator.load_state_dict(state)
    return generator.to(device).eval(), info


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """load_weights with the metadata as stored (training and the tools read extras from it)."""
    generator, info = load_weights(path, device)
    return generator, info.metadata
