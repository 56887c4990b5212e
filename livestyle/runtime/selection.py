"""Choosing what a run uses: the model (an engine, a trained run or the demo model), its backend and
its inference size. Shared by the live app (python -m livestyle), the video command and the
benchmark scripts; nothing here needs a display or Qt.

    choice = resolve_model(None, Path("engines"), Path("runs"), probe())   # newest engine, run, or demo
    stylizer = open_stylizer(choice, "auto", (640, 360), threads=4, engines_dir=Path("engines"), log=say)

What a command's flags ask for arrives as RuntimeOptions (runtime.options); runtime.builder puts it together.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from livestyle.core import ASSETS
from livestyle.core.assets import bundled
from livestyle.core.errors import LivestyleError, first_line
from livestyle.core.files import sha256_file
from livestyle.core.sizes import MAX_SIDE, SIZE_MULTIPLE, nearest_side, parse_size
from livestyle.faces.crop import FACES_BATCH
from livestyle.model.weights import WEIGHTS_FILE, WeightsInfo, read_weights_info
from livestyle.runtime.backends import unavailable
from livestyle.runtime.engines.sidecars import SUFFIX, problems, read_sidecar, sidecar_path
from livestyle.runtime.facemode import CropStylizer
from livestyle.runtime.options import RuntimeOptions
from livestyle.runtime.stylizer import Stylizer
from livestyle.runtime.timing import median_ms

AUTO_WIDTHS = (640, 480, 320, 256)  # --size auto tries these widths, keeping the capture's aspect
# A pyramid model runs its network on 1/4^levels of the pixels and takes any size: larger ones first.
AUTO_WIDTHS_ANY_SIZE = (1280, 960, *AUTO_WIDTHS)
DEMO_MODEL = ASSETS / "demo_game2movie.safetensors"
DEMO_FACES_MODEL = ASSETS / "demo_faces_game2movie.safetensors"


# ---------------------------------------------------------------------------------------------- models

@dataclass
class ModelChoice:
    weights: Path
    engine: Path | None = None
    why: str = ""
    built_size: tuple[int, int] | None = None  # an engine's input size, from its sidecar

    @property
    def label(self) -> str:
        if self.engine is not None:
            return self.engine.name
        if self.weights.resolve() == DEMO_MODEL:
            return "demo model"
        if self.weights.resolve() == DEMO_FACES_MODEL:
            return "faces demo model"
        return f"{self.weights.parent.name}/{self.weights.name}"

    @functools.cached_property
    def info(self) -> WeightsInfo:
        """What its weights file says, read once when first asked (a damaged file costs nothing until used)."""
        self.check_bundled()
        return read_weights_info(self.weights)

    def check_bundled(self) -> None:
        """A bundled demo model is the file livestyle shipped (SHA256SUMS), before it is read."""
        if self.weights.resolve() in (DEMO_MODEL, DEMO_FACES_MODEL):
            bundled(self.weights.name, "demo model")

    @property
    def kind(self) -> str:
        """"faces" or "frames": what the model was trained on."""
        return self.info.kind

    @property
    def size_multiple(self) -> int:
        """What the sides of its inference size must be a multiple of (8, or 1 for a pyramid model)."""
        return self.info.size_multiple


def recorded_weights(engine: Path, sidecar: dict) -> str:
    weights = sidecar.get("weights")
    recorded = weights.get("path") if isinstance(weights, dict) else None
    if not isinstance(recorded, str) or not recorded:
        raise LivestyleError(f"{sidecar_path(engine)}: the sidecar's 'weights.path' does not name the weights the "
                             f"engine was built from; pass --model runs/<run>/{WEIGHTS_FILE} instead")
    return recorded


def engine_weights(engine: Path, sidecar: dict) -> Path:
    """The weights an engine was built from (the Stylizer needs them: model identity and fallback): the file the
    sidecar names, if it is the file the engine was built from (the sidecar's weights.sha256)."""
    recorded = recorded_weights(engine, sidecar)
    expected = sidecar["weights"].get("sha256")
    for candidate in (Path(recorded), engine.parent.parent / recorded, engine.parent / recorded):
        if candidate.is_file():
            if isinstance(expected, str) and sha256_file(candidate) != expected:
                raise LivestyleError(f"{sidecar_path(engine)}: its 'weights.path' names {candidate}, which is not the "
                                     f"file the engine was built from (another sha256); pass --model with those "
                                     f"weights, or rebuild the engine")
            return candidate
    raise LivestyleError(f"{engine} was built from {recorded} (its sidecar's 'weights.path'), which is not here; the "
                         f"engine needs its weights (for the model's identity and the torch-cpu fallback): pass "
                         f"--model with those weights")


def usable_engine(artifact: Path, fmt: str, machine, engines_dir: Path, log) -> tuple[float, ModelChoice] | None:
    """(built time, choice) for an engine that can run here and whose weights exist, else None. A
    sidecar that cannot be trusted (read_sidecar checks every field) costs only its own engine: it
    is skipped, with a warning through `log`."""
    try:
        sidecar = read_sidecar(artifact)
        if sidecar["format"] != fmt:
            return None
        recorded_weights(artifact, sidecar)
    except LivestyleError as error:
        if log is not None:
            log(f"warning: skipping the engine {artifact.name}: {first_line(error)}")
        return None
    if problems(sidecar, machine, artifact=artifact):
        return None
    try:  # its weights elsewhere, or the engine gone meanwhile: not usable here, nothing to warn about
        weights = engine_weights(artifact, sidecar)
        built = artifact.stat().st_mtime
    except (LivestyleError, OSError):
        return None
    width, height = sidecar["input"]["size"]
    return built, ModelChoice(weights, artifact, f"newest engine in {engines_dir}/", (width, height))


def usable_engines(engines_dir: Path, machine, log=None) -> list[ModelChoice]:
    """Engines in engines_dir that can run here and whose weights exist, newest first (see usable_engine)."""
    found = []
    for fmt, backend in (("tensorrt", "tensorrt"), ("onnx", "onnxruntime")):
        if not engines_dir.is_dir() or unavailable(backend, machine):
            continue
        for path in engines_dir.glob(f"*{SUFFIX[fmt]}.json"):
            usable = usable_engine(path.with_name(path.name[: -len(".json")]), fmt, machine, engines_dir, log)
            if usable is not None:
                found.append(usable)
    return [choice for _, choice in sorted(found, key=lambda item: item[0], reverse=True)]


def trained_runs(runs_dir: Path) -> list[ModelChoice]:
    found = sorted(runs_dir.glob(f"*/{WEIGHTS_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if runs_dir.is_dir() else []
    return [ModelChoice(path, None, f"newest trained run in {runs_dir}/") for path in found]


FACES_FIX = ("it was trained on face crops (python -m training.fit faces), and run over whole frames it would "
             "smear them; give a frames model (python -m training.fit frames), or leave --model out")


def kind_or_none(choice: ModelChoice) -> str | None:
    """What a candidate was trained on; None when its weights cannot be read (opening it says why)."""
    try:
        return choice.kind
    except (LivestyleError, OSError):
        return None


def model_candidates(engines_dir: Path, runs_dir: Path, machine, log=None, kind: str = "frames") -> list[ModelChoice]:
    """Every model M cycles through: usable engines, trained runs, the demo model — of one kind. For
    frames (the whole picture) a faces model (trained on face crops) is skipped with a line through
    `log`; for faces (faces mode), frames models are left out silently and the faces demo model ends
    the list."""
    candidates = usable_engines(engines_dir, machine, log) + trained_runs(runs_dir)
    demo = DEMO_MODEL if kind == "frames" else DEMO_FACES_MODEL
    if demo.is_file():
        candidates.append(ModelChoice(demo, None, f"the bundled {'faces ' if kind == 'faces' else ''}demo model"))
    chosen = []
    for choice in candidates:
        found = kind_or_none(choice)
        if found is not None and found != kind:
            if log is not None and kind == "frames":
                log(f"skipping {choice.label}: a faces model (trained on face crops); the whole picture needs a "
                    f"frames model (python -m training.fit frames)")
            continue
        chosen.append(choice)
    return chosen


FRAMES_FIX = ("it was trained on whole frames (python -m training.fit frames); faces mode needs a faces model "
              "(python -m training.fit faces) — give that one to --model instead, or leave PATH out for the newest "
              "faces run")


def resolve_faces_model(path: Path | None, engines_dir: Path, runs_dir: Path, machine) -> ModelChoice:
    """--faces [PATH]: the faces model at PATH, else the newest faces engine or run, else the faces demo."""
    if path is None:
        candidates = model_candidates(engines_dir, runs_dir, machine, kind="faces")
        if not candidates:
            raise LivestyleError(f"--faces: no faces model: no faces run in {runs_dir}/*/{WEIGHTS_FILE} and the "
                                 f"bundled faces demo model {DEMO_FACES_MODEL} is missing (reinstall livestyle). "
                                 f"Train one: python -m training.fit faces --quick, or pass --faces PATH")
        return candidates[0]
    choice = given_model(path, "--faces")
    if choice.kind != "faces":
        raise LivestyleError(f"--faces {path}: {FRAMES_FIX}")
    return choice


def newest_run_is_faces(runs_dir: Path) -> ModelChoice | None:
    """The newest trained run when it is a faces model (the app then starts in faces mode), else None."""
    runs = trained_runs(runs_dir)
    return runs[0] if runs and kind_or_none(runs[0]) == "faces" else None


def open_faces_stylizer(choice: ModelChoice, options: RuntimeOptions, log):
    """(the faces model's CropStylizer, its crop rule): crops at its training size (an engine at its own),
    FACES_BATCH crops a pass; without an engine, a lone face runs alone on the backend the batches use."""
    rule, side = choice.info.crop_rule, choice.info.faces_side
    if choice.engine is not None:
        return CropStylizer(Stylizer(choice.weights, engine=choice.engine, log=log, options=options)), rule
    batched = Stylizer(choice.weights, size=(side, side), log=log, batch=FACES_BATCH, options=options)
    try:
        single = Stylizer(choice.weights, size=(side, side), log=log, options=replace(options, backend=batched.name))
    except LivestyleError:  # e.g. TensorRT with an engine for the batches only: every pass is a batch then
        single = None
    return CropStylizer(batched, single), rule


def resolve_model(path: Path | None, engines_dir: Path, runs_dir: Path, machine, log=None,
                  fits: Callable[[ModelChoice], bool] | None = None) -> ModelChoice:
    """--model, else the first candidate (engines, runs, demo) that `fits` (the first at all when none does)."""
    if path is None:
        candidates = model_candidates(engines_dir, runs_dir, machine, log)
        if candidates and fits is not None:
            return next((choice for choice in candidates if fits(choice)), candidates[0])
        if not candidates:
            raise LivestyleError(f"no model to run: no usable frames-model engine in {engines_dir}/, no frames "
                                 f"run in {runs_dir}/*/{WEIGHTS_FILE}, and the bundled demo model {DEMO_MODEL} is "
                                 f"missing (reinstall livestyle). Train one: python -m training.fit frames --quick, "
                                 f"or pass --model PATH")
        return candidates[0]
    choice = given_model(path)
    if choice.kind == "faces":
        raise LivestyleError(f"--model {path}: {FACES_FIX}")
    return choice


def given_model(path: Path, flag: str = "--model") -> ModelChoice:
    if not path.exists():
        raise LivestyleError(f"{flag} {path}: no such file or folder")
    if path.suffix in (".engine", ".onnx"):
        return ModelChoice(engine_weights(path, read_sidecar(path)), path, flag)
    if path.is_dir():
        if not (path / WEIGHTS_FILE).is_file():
            raise LivestyleError(f"{flag} {path} is a folder without {WEIGHTS_FILE}; pass a run folder or a file")
        return ModelChoice(path / WEIGHTS_FILE, None, flag)
    return ModelChoice(path, None, flag)


def next_model(current: ModelChoice, candidates: list[ModelChoice]) -> ModelChoice | None:
    """The candidate after `current` (wrapping around) that is another model; None when there is none."""
    def key(choice: ModelChoice):
        return choice.weights.resolve(), choice.engine.resolve() if choice.engine else None

    keys = [key(choice) for choice in candidates]
    now = key(current)
    position = keys.index(now) if now in keys else -1
    return next((candidates[(position + step) % len(candidates)] for step in range(1, len(candidates) + 1)
                 if keys[(position + step) % len(candidates)] != now), None)


class ModelSwitcher:
    """The live app's M key: the next model after the current one in model_candidates() (engines, runs,
    demo), opened at the current size (an engine at its own); called on a worker thread."""

    def __init__(self, choice: ModelChoice, backend: str, threads: int, engines_dir: Path, runs_dir: Path,
                 machine, log, current_size, faces_mode=None, *, options: RuntimeOptions | None = None):
        self.choice = choice  # the model running now (in faces mode: the faces model)
        # The command's options, with the backend, threads and folders given here.
        self.options = replace(options or RuntimeOptions(), backend=backend, threads=threads,
                               engines_dir=engines_dir, runs_dir=runs_dir)
        self.machine, self.log = machine, log
        self.engines_dir, self.runs_dir = engines_dir, runs_dir
        self.current_size = current_size  # () -> the running stylizer's size
        self.faces_mode = faces_mode  # () -> the running FacesStylizer: M cycles faces models

    def __call__(self) -> tuple[Stylizer, str]:
        kind = "faces" if self.faces_mode is not None else "frames"
        candidates = model_candidates(self.engines_dir, self.runs_dir, self.machine, kind=kind)  # warned at start
        following = next_model(self.choice, candidates)
        if following is None:
            raise LivestyleError(f"no other {kind} model: add engines to {self.engines_dir}/ or train runs into "
                                 f"{self.runs_dir}/ (python -m training.fit {kind})")
        if kind == "faces":
            faces, rule = open_faces_stylizer(following, self.options, self.log)
            new, label = self.faces_mode().with_faces(faces, rule), f"faces: {following.label}"
        else:
            size = None if following.engine else self.current_size()
            new = open_stylizer(following, self.options, size, self.log)
            label = following.label
        self.choice = following
        return new, label


def open_stylizer(choice: ModelChoice, options: RuntimeOptions, size, log) -> Stylizer:
    """The model at `size` (an engine at its own) on the options' backend."""
    choice.check_bundled()
    return Stylizer(choice.weights, size=size, engine=choice.engine, log=log, options=options)


# ---------------------------------------------------------------------------------------------- sizes

def candidate_sizes(capture: tuple[int, int], widths=AUTO_WIDTHS,
                    multiple: int = SIZE_MULTIPLE) -> list[tuple[int, int]]:
    """Largest first, the capture's aspect ratio, multiples of `multiple` (the model's size rule),
    never wider than the capture."""
    width, height = capture
    aspect = width / height
    sizes = []
    for candidate in widths:
        w = nearest_side(min(candidate, width), multiple)
        h = nearest_side(w / aspect, multiple)
        if (w, h) not in sizes:
            sizes.append((w, h))
    return sizes


def scaled_size(capture: tuple[int, int], scale: float, what: str = "capture") -> tuple[int, int]:
    """--scale of the captured (or video) size, on the size rule; at most MAX_SIDE a side."""
    size = nearest_side(capture[0] * scale), nearest_side(capture[1] * scale)
    if max(size) > MAX_SIDE:
        raise LivestyleError(f"--scale {scale:g} of the {capture[0]}x{capture[1]} {what} is {size[0]}x{size[1]}, "
                             f"over {MAX_SIDE} pixels a side; use a smaller --scale")
    return size


def choose_size(choice: ModelChoice, backend: str, capture: tuple[int, int], fps_cap: float, threads: int | None,
                engines_dir: Path, log, *, options: RuntimeOptions | None = None) -> Stylizer:
    """--size auto: the largest candidate size whose measured ms/frame fits the fps cap's budget (`options`:
    the command's, with the backend, threads and folder given here)."""
    options = replace(options or RuntimeOptions(), backend=backend, threads=threads, engines_dir=engines_dir)
    budget_ms = 1000.0 / fps_cap
    frame = np.random.default_rng(0).integers(0, 256, (capture[1], capture[0], 4), dtype=np.uint8)
    chosen, last_error = None, None
    multiple = choice.size_multiple
    widths = AUTO_WIDTHS if multiple % SIZE_MULTIPLE == 0 else AUTO_WIDTHS_ANY_SIZE
    for size in candidate_sizes(capture, widths, multiple):
        try:
            stylizer = open_stylizer(choice, options, size, log)
        except LivestyleError as error:
            log(f"size auto: {size[0]}x{size[1]} skipped ({error})")
            last_error = error
            continue
        options = replace(options, backend=stylizer.name)  # auto chose at the largest size; smaller sizes keep it
        # Capture-sized frame in → stylised out; a first frame far over budget is not timed further.
        ms = median_ms(functools.partial(stylizer, frame), min_runs=2, max_runs=5, seconds=1.0,
                       too_slow_ms=max(4 * budget_ms, 250))
        log(f"size auto: {size[0]}x{size[1]} on {stylizer.name}: {ms:.1f} ms/frame "
            f"({'fits' if ms <= budget_ms else 'over'} the {budget_ms:.1f} ms budget of --fps-cap {fps_cap:g})")
        if chosen is not None:
            chosen[0].close()
        chosen = (stylizer, ms)
        if ms <= budget_ms:
            return stylizer
    if chosen is None:
        raise last_error or LivestyleError("size auto: no size could be opened")
    stylizer, ms = chosen
    log(f"size auto: even {stylizer.size[0]}x{stylizer.size[1]} takes {ms:.0f} ms on {stylizer.name}: expect about "
        f"{1000 / ms:.1f} fps (a GPU backend, or a smaller --size, is faster)")
    return stylizer


def open_for_capture(choice: ModelChoice, options: RuntimeOptions, capture: tuple[int, int], log, *, size: str,
                     scale: float | None, fps_cap: float) -> Stylizer:
    """The live app's stylizer: an engine at its built size, else `scale` of the capture, `size`, or
    the largest size that keeps up with `fps_cap` (size "auto")."""
    if choice.engine is not None:
        stylizer = open_stylizer(choice, options, None, log)
        if size != "auto" or scale is not None:
            flag = f"--scale {scale:g}" if scale is not None else f"--size {size}"
            log(f"livestyle: {flag} cannot be honoured: {choice.engine.name} was built for "
                f"{stylizer.size[0]}x{stylizer.size[1]} and runs only at that size; build an engine at the size you "
                f"want (python scripts/build_engine.py --size WxH) or pass --model with the weights")
        return stylizer
    if scale is not None:
        return open_stylizer(choice, options, scaled_size(capture, scale), log)
    if size != "auto":
        return open_stylizer(choice, options, size, log)
    return choose_size(choice, options.backend, capture, fps_cap, options.threads, options.engines_dir, log,
                       options=options)


def check_size_flag(size: str) -> None:
    """--size as far as it can be checked before a model is chosen (its form and bounds; the model's
    own size rule, multiples of 8 for the plain generator, is checked when it is opened)."""
    if size != "auto":
        parse_size(size, "--size", multiple=1)
