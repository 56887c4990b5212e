"""RuntimeOptions: what every command that runs a model is told — which model, faces model, backend,
CPU threads, and the folders it finds engines and runs in.

Each field is declared once, with its flag: `add_arguments(parser, command)` gives a command its flags
(`python -m livestyle` is "live", `python -m livestyle.video` is "video") and `from_args` reads them
back, so a field added here reaches both commands and the one builder (runtime.builder) without
another line anywhere. Where the commands differ (the threads' default, a note in a help text), the
difference is written here, beside the field.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from livestyle.core.cli import ON_OFF, bounded_int
from livestyle.model.weights import WEIGHTS_FILE
from livestyle.runtime.backends import NAMES

COMMANDS = ("live", "video")
BACKEND_CHOICES = ("auto", *NAMES)
MAX_THREADS = 1024
AUTO_FACES = Path("<newest faces model>")  # --faces without PATH


def default_threads(command: str) -> int:
    """Half the cores while a game runs (the live app leaves it the rest); all of them for a video."""
    cores = os.cpu_count() or 1
    return max(1, cores // 2) if command == "live" else cores


SECTIONS = ("model", "machine")  # where a command's --help lists the flags: at the top, or with its other settings


def option(default: Any, flag: str | None = None, help: str | dict[str, str] = "", *, section: str = "model",
           backends: bool = False, **argparse: Any) -> Any:
    """A RuntimeOptions field. flag None: no command-line flag (set by the caller, e.g. tests' folders).
    help: one text, or one per command; {threads} in it is the command's default thread count.
    backends: handed to every backend as a keyword of the same name (runtime.backends.open_backend)."""
    return field(default=default, metadata={"flag": flag, "help": help, "section": section, "backends": backends,
                                            "argparse": argparse})


MODEL_HELP = ("an engine in engines/ (.engine/.onnx with its sidecar), generator weights (.safetensors) or a run "
              f"folder (default: the newest usable engine, else the newest runs/*/{WEIGHTS_FILE}, else the bundled "
              "demo model{note})")
FACES_HELP = ("faces mode: find the faces, stylise them with the faces model at PATH (weights, run or engine; "
              "without PATH the newest faces run, else the bundled faces demo) and paste them back; --model is "
              "then optional (without it {rest})")


@dataclass
class RuntimeOptions:
    model: Path | None = option(None, "--model", {
        "live": MODEL_HELP.format(note=""),
        "video": MODEL_HELP.format(note="; an engine built for another aspect ratio than the video's is passed "
                                        "over")}, type=Path)
    backend: str = option("auto", "--backend", "inference backend (default auto: the fastest this machine runs)",
                          choices=BACKEND_CHOICES)
    faces: Path | None = option(None, "--faces", {
        "live": FACES_HELP.format(rest="the rest of the picture is the game as captured. Without any model flag "
                                       "the app starts in faces mode when the newest trained run is a faces model"),
        "video": FACES_HELP.format(rest="the rest of each frame is kept as it is. Without any model flag it runs "
                                        "in faces mode when the newest trained run is a faces model")},
        type=Path, nargs="?", const=AUTO_FACES, metavar="PATH")
    threads: int | None = option(None, "--threads", {
        "live": "CPU threads for inference (default: half the cores, here {threads})",
        "video": "CPU threads for the CPU backends (default: all cores)"}, section="machine", backends=True,
        type=bounded_int(1, MAX_THREADS))
    grain: bool = option(True, "--grain", {
        "live": "draw the model's film grain on the picture, new every frame (only a film look's weights carry "
                "grain; default on; --no-grain to leave it off; G toggles it)",
        "video": "draw the model's film grain on each frame, after --stabilize (only a film look's weights carry "
                 "grain; default on; --no-grain to leave it off)"}, action=ON_OFF)
    engines_dir: Path = option(Path("engines"), backends=True)  # engines and runs: in the working folder
    runs_dir: Path = option(Path("runs"))

    @property
    def faces_path(self) -> Path | None:
        """--faces's PATH; None for the newest faces model (and when faces mode is off)."""
        return None if self.faces == AUTO_FACES else self.faces

    def cpu_threads(self, command: str) -> int:
        return self.threads or default_threads(command)

    def for_command(self, command: str) -> "RuntimeOptions":
        """These options with the command's defaults filled in (the threads)."""
        return replace(self, threads=self.cpu_threads(command))

    def for_backends(self) -> dict[str, Any]:
        """What every backend is told (the fields marked backends=True), as keywords."""
        return {spec.name: getattr(self, spec.name) for spec in fields(self) if spec.metadata["backends"]}

    @classmethod
    def add_arguments(cls, parser: Any, command: str, section: str) -> None:
        """The flags of one section ("model": at the top of --help; "machine": with the command's other
        settings), as `command` ("live" or "video") words them."""
        if command not in COMMANDS or section not in SECTIONS:
            raise ValueError(f"unknown command {command!r} or section {section!r}; {COMMANDS}, {SECTIONS}")
        for spec in fields(cls):
            flag = spec.metadata["flag"]
            if flag is None or spec.metadata["section"] != section:
                continue
            help_text = spec.metadata["help"]
            help_text = help_text[command] if isinstance(help_text, dict) else help_text
            parser.add_argument(flag, dest=spec.name, default=spec.default,
                                help=help_text.format(threads=default_threads(command)),
                                **spec.metadata["argparse"])

    @classmethod
    def from_args(cls, args: Any, **folders: Path) -> "RuntimeOptions":
        """The options a parsed command line holds; `folders` (engines_dir, runs_dir) where they are not
        the working folder's."""
        values: dict[str, Any] = {spec.name: getattr(args, spec.name) for spec in fields(cls)
                                  if spec.metadata["flag"] is not None}
        return cls(**values | folders)
