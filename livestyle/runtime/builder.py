"""The one builder of what a command runs: RuntimeOptions in, the models chosen (Models) and the
FrameStylizer that runs them out — for the live app and the video command alike.

    models = choose_models(options, probe(), log, who="livestyle")
    stylizer = build_stylizer(options, models, open_frames, command="live", frame_size=(1280, 720), log=log)

Where the two differ, they say so through the arguments: how the frames model is opened (the app times
sizes against its fps cap, the video takes --size or 640 wide), which engines fit (the video passes over
another aspect ratio), and whether faces are detected live (on their own thread) or in every frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from livestyle.core.logs import LOGGER
from livestyle.runtime.facemode import FacesStylizer
from livestyle.runtime.options import RuntimeOptions
from livestyle.runtime.protocol import FrameStylizer
from livestyle.runtime.selection import (
    ModelChoice,
    newest_run_is_faces,
    open_faces_stylizer,
    resolve_faces_model,
    resolve_model,
)
from livestyle.runtime.stylizer import Stylizer

Log = Callable[[str], None]


@dataclass
class Models:
    """What a run uses: a frames model over the whole picture, faces mode's faces model, or both."""
    frames: ModelChoice | None
    faces: ModelChoice | None

    @property
    def running(self) -> ModelChoice:
        """The model the M key cycles from: the faces model in faces mode."""
        chosen = self.faces or self.frames
        assert chosen is not None, "choose_models always chooses one"
        return chosen

    @property
    def label(self) -> str:
        if self.faces is None:
            return self.frames.label if self.frames else ""
        return f"faces: {self.faces.label}" + (f" + {self.frames.label}" if self.frames else "")

    def paths(self) -> list:
        """Every file the models are read from (outputs must stay apart from them)."""
        return [path for choice in (self.frames, self.faces) if choice for path in (choice.weights, choice.engine)]


def faces_wanted(options: RuntimeOptions, machine, log: Log, who: str) -> ModelChoice | None:
    """The faces model when the run is in faces mode: --faces [PATH], or, with no model flag at all,
    the newest trained run when it is a faces model."""
    if options.faces is not None:
        return resolve_faces_model(options.faces_path, options.engines_dir, options.runs_dir, machine)
    if options.model is None:
        newest = newest_run_is_faces(options.runs_dir)
        if newest is not None:
            log(f"{who}: the newest trained run ({newest.label}) is a faces model: starting in faces mode "
                f"(--model PATH runs a frames model over the whole picture instead)")
            newest.why = f"newest trained run in {options.runs_dir}/"
            return newest
    return None


def choose_models(options: RuntimeOptions, machine, log: Log, who: str,
                  fits: Callable[[ModelChoice], bool] | None = None) -> Models:
    """The models of a run, each said in the log. `fits`: passes over an engine that does not fit (the
    first candidate is taken when none does, so its warning can say what to do)."""
    faces = faces_wanted(options, machine, log, who)
    frames = None
    if faces is None or options.model is not None:
        frames = resolve_model(options.model, options.engines_dir, options.runs_dir, machine, log, fits=fits)
        log(f"{who}: model {frames.label} ({frames.why})")
    if faces is not None:
        log(f"{who}: faces mode, faces model {faces.label} ({faces.why})"
            + ("" if frames else "; the rest of the picture as captured"))
    return Models(frames, faces)


def build_stylizer(options: RuntimeOptions, models: Models, open_frames: Callable[[ModelChoice], Stylizer], *,
                   command: str, frame_size: tuple[int, int], frame_rate: float | None = None,
                   log: Log) -> FrameStylizer:
    """The run's FrameStylizer: the frames model opened by `open_frames`, in faces mode wrapped by the
    faces stylizer. frame_rate None: live (faces found on their own thread, at most 15 times a second);
    a number: a video's frames, each looked at for faces, the tracks' clock at that rate."""
    options = options.for_command(command)
    LOGGER.debug("%s: %s", command, options)
    frames = open_frames(models.frames) if models.frames is not None else None
    stylizer: FrameStylizer
    if models.faces is None:
        assert frames is not None, "choose_models always chooses one"
        stylizer = frames
    else:
        faces, rule = open_faces_stylizer(models.faces, options, log)
        if frame_rate is None:
            stylizer = FacesStylizer(faces, rule, frames, frame_size=frame_size)
        else:
            stylizer = FacesStylizer(faces, rule, frames, frame_size=frame_size, detect_fps=None, frame_rate=frame_rate)
    for line in stylizer.report:
        log(f"  {line}")
    return stylizer
