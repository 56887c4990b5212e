"""Faces mode: find the faces in the game picture, give them the film look with a faces model, paste
them back — over the game as captured, or over a frames model's picture.

    faces = FacesStylizer(Stylizer(faces_weights, batch=FACES_BATCH, size=(128, 128)), FACE_CROP)
    picture = faces(frame)       # frame: uint8 H×W×3 BGR or H×W×4 BGRA; picture: uint8 BGR

Per frame: the tracked face boxes (livestyle.faces.tracks.FaceTracks, fed by a BlazeFace detector) become
square crops of the full-resolution frame by the crop rule `training.prepare faces` uses
(CropRule.box); faces smaller than the rule's minimum are left as they are. The crops run through
the faces model at its training size, `FACES_BATCH` at a time; what the model changed is enlarged
back onto the full-size crop (with_change: the game's detail is kept, the look is the model's),
and pasted back with a feather that stays inside each crop box. The base picture is the frames
model's output (at its size) when there is one, else the frame itself, at `output_size` when given,
else at the frame's own size.

Live (`detect_fps` set), detection runs on its own thread on a copy at most `DETECT_WIDTH` px wide,
at most `detect_fps` times a second; the crops use the newest tracked boxes, so the stylising never
waits for it. Offline (`detect_fps=None`: the video command) every frame is detected before it is
stylised, so the result does not depend on timing.
"""
from __future__ import annotations

import statistics
import threading
import time
from collections import deque

import cv2
import numpy as np

from livestyle.core.images import resize
from livestyle.core.latest import LatestBox
from livestyle.faces.crop import CropRule, paste
from livestyle.faces.detector import FaceDetector
from livestyle.faces.tracks import FaceTracks
from livestyle.runtime.grain import CropGrain, model_grain
from livestyle.runtime.stylizer import Stylizer

DETECT_WIDTH = 320  # px: the detector looks at 256 px squares of this copy (two for 16:9), no detail lost


def with_change(crop: np.ndarray, before: np.ndarray, after: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The crop (any size, uint8 BGR) at `size` with the faces model's change added: after − before, made at
    the model's training size and enlarged smoothly. The film look is carried by that change; the
    game's own detail comes from the full-size crop, so a face is never blurred to the model's size."""
    picture = resize(crop, size) if crop.shape[1::-1] != size else crop
    change = cv2.resize(after.astype(np.int16) - before.astype(np.int16), size, interpolation=cv2.INTER_LINEAR)
    return np.clip(picture.astype(np.int16) + change, 0, 255).astype(np.uint8)


class CropStylizer:
    """The faces model: crops in batches of a fixed size (`batched`, what engines are built for), and a
    lone face through `single` (batch 1) where there is one, so one face does not pay for four."""

    def __init__(self, batched: Stylizer, single: Stylizer | None = None):
        self.batched, self.single = batched, single

    size = property(lambda self: self.batched.size)
    name = property(lambda self: self.batched.name)
    model = property(lambda self: self.batched.model)
    backend = property(lambda self: self.batched.backend)
    report = property(lambda self: list(self.batched.report))
    engine_file = property(lambda self: self.batched.engine_file)

    def describe(self) -> str:
        return self.batched.describe() + f", {self.batched.backend.batch} crops a pass" + (
            " (a lone face: 1)" if self.single is not None else "")

    def stylize_batch(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        if len(crops) == 1 and self.single is not None:
            return self.single.stylize_batch(crops)
        return self.batched.stylize_batch(crops)

    def close(self) -> None:
        self.batched.close()
        if self.single is not None:
            self.single.close()

    @classmethod
    def on_cpu(cls, weights, size: tuple[int, int], batch: int, threads: int | None = None, log=None) -> "CropStylizer":
        options = dict(threads=threads) if log is None else dict(threads=threads, log=log)
        batched = Stylizer(weights, "torch-cpu", size=size, batch=batch, **options)
        return cls(batched, Stylizer(weights, "torch-cpu", size=size, **options) if batch > 1 else None)


class FacesStylizer:
    """A pipeline stylizer (__call__, name, size, describe, close) for faces mode; see the module doc."""

    def __init__(self, faces, rule: CropRule, frames=None, *, output_size: tuple[int, int] | None = None,
                 detector: FaceDetector | None = None, detect_fps: float | None = 15.0,
                 tracks: FaceTracks | None = None, frame_rate: float = 30.0, frame_size: tuple[int, int] = (640, 360)):
        self.faces, self.frames, self.rule = faces, frames, rule
        self.side = faces.size[0]
        self.smallest = rule.smallest_face(self.side)
        self.output_size = (int(output_size[0]), int(output_size[1])) if output_size else None
        self.detector = detector or FaceDetector()
        self.tracks = tracks or FaceTracks()
        self.detect_fps = detect_fps
        self.frame_rate = frame_rate  # offline: frame n is at n / frame_rate seconds (the tracks' clock)
        self._frames_seen = 0
        # The frames' size (the capture's), until the first one says.
        self._frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.enabled = True  # the live app's F key: off shows the base picture alone
        self._lock = threading.Lock()
        self._boxes: list[tuple[int, ...]] = []
        self._detect_ms: deque = deque(maxlen=60)
        self._stylise_ms: deque = deque(maxlen=60)
        self.in_view = 0        # faces the detector sees now (any size)
        self.stylised = 0       # faces stylised in the last frame (big enough for the rule)
        self.detections = 0
        self.frames_with_faces = 0
        self.last_boxes: list[tuple[int, ...]] = []
        self._pasted: tuple[list, tuple[int, int]] = ([], (0, 0))  # the last picture's crops, for CropGrain
        self.detect_error: str | None = None
        self._inbox = LatestBox()
        self._wanted = threading.Event()  # the detector is ready for a frame: only then is a copy made
        self._wanted.set()
        self._frames_handed_on = False
        self._stop = threading.Event()
        self._thread = None
        if detect_fps is not None:
            self._thread = threading.Thread(target=self._detect_loop, name="livestyle-faces", daemon=True)
            self._thread.start()

    # the pipeline's stylizer contract ----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.faces.name

    @property
    def model(self):
        return self.faces.model

    @property
    def size(self) -> tuple[int, int]:
        """The picture's size: the frames model's, else output_size, else the frames' own."""
        if self.frames is not None:
            return self.frames.size
        return self.output_size or self._frame_size

    @property
    def report(self) -> list[str]:
        return self.faces.report + (self.frames.report if self.frames is not None else [])

    @property
    def faces_on(self) -> bool | None:
        return self.enabled

    @faces_on.setter
    def faces_on(self, value: bool) -> None:
        self.enabled = value

    def describe(self) -> str:
        text = (f"faces mode: faces model on {self.faces.describe()}; "
                f"detector BlazeFace ({self.detector.variant}) on a ≤{DETECT_WIDTH} px copy")
        if self.frames is not None:
            return f"{text}; frames model on {self.frames.describe()}"
        return f"{text}; the rest of the picture as captured"

    @property
    def engine_file(self) -> str | None:
        return self.frames.engine_file if self.frames is not None else self.faces.engine_file

    def film_grain(self) -> CropGrain | None:
        """The faces model's grain, drawn only inside the pasted crops (where() reads this picture's crops)."""
        amount = model_grain(self.faces.model)
        return CropGrain(amount, self.pasted) if amount > 0 else None

    def pasted(self):
        """The crops of the last picture: ([(left, top, width, height, feather)], its (width, height))."""
        return self._pasted

    def status(self) -> dict:
        """The HUD's and the stats files' faces numbers."""
        with self._lock:
            detect = statistics.median(self._detect_ms) if self._detect_ms else None
            stylise = statistics.median(self._stylise_ms) if self._stylise_ms else None
        return {"faces_in_view": self.in_view, "faces_stylised": self.stylised, "detector_ms": detect,
                "faces_ms": stylise, "faces_on": self.enabled, "faces_error": self.detect_error,
                "frames_with_faces": self.frames_with_faces}

    def stop(self) -> None:
        """End the detection thread (before the process exits: OpenCV aborts under a thread still in it)."""
        self._stop.set()
        self._inbox.close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()
        self.faces.close()
        if self.frames is not None and not self._frames_handed_on:
            self.frames.close()

    def with_faces(self, faces, rule: CropRule) -> "FacesStylizer":
        """The same mode with another faces model (the live app's M key); the frames model is handed on
        (this one stops owning it), detection starts afresh (its own thread and network)."""
        new = FacesStylizer(faces, rule, self.frames, output_size=self.output_size, detect_fps=self.detect_fps,
                            frame_size=self._frame_size)
        new.enabled = self.enabled
        self._frames_handed_on = True
        return new

    def on_cpu(self, threads: int | None = None, log=None) -> "FacesStylizer":
        """The same models on torch-cpu (the pipeline's fallback when a backend fails mid-run)."""
        options = dict(threads=threads, log=log) if log is not None else dict(threads=threads)
        faces = CropStylizer.on_cpu(self.faces.model, self.faces.size, self.faces.backend.batch, **options)
        frames = (Stylizer(self.frames.model, "torch-cpu", size=self.frames.size, **options)
                  if self.frames is not None else None)
        new = FacesStylizer(faces, self.rule, frames, output_size=self.output_size, detect_fps=self.detect_fps,
                            frame_size=self._frame_size)
        new.enabled = self.enabled
        return new

    # per frame -------------------------------------------------------------------------------------------
    def __call__(self, frame: np.ndarray, now: float | None = None) -> np.ndarray:
        height, width = frame.shape[:2]
        self._frame_size = (width, height)
        self._frames_seen += 1
        if self.enabled:
            if self._thread is None:
                when = now if now is not None else self._frames_seen / self.frame_rate
                self._detect(self._small_copy(frame), width, when)
            elif self._wanted.is_set():  # at most detect_fps copies a second, not one per frame
                self._wanted.clear()
                self._inbox.put((self._small_copy(frame), width, time.perf_counter()))
        base = self._base(frame)
        self._pasted = ([], (base.shape[1], base.shape[0]))
        if not self.enabled:
            return base
        with self._lock:
            boxes = list(self._boxes)
        boxes = [b for b in boxes if min(b[2], b[3]) >= self.smallest]
        self.last_boxes = boxes  # the face boxes (capture px) this picture's crops were cut around
        started = time.perf_counter()
        if boxes:
            crops, places = [], []
            scale_x, scale_y = base.shape[1] / width, base.shape[0] / height
            for x, y, w, h in boxes:
                left, top, side = self.rule.box(x, y, w, h, width, height)
                crops.append(frame[top:top + side, left:left + side, :3])
                places.append((round(left * scale_x), round(top * scale_y), max(1, round(side * scale_x)),
                               max(1, round(side * scale_y))))
            model_side = self.faces.size
            small = [resize(crop, model_side) for crop in crops]
            after_all = self.faces.stylize_batch(small)
            pasted = []
            for crop, before, after, (left, top, w, h) in zip(crops, small, after_all, places, strict=True):
                w, h = min(w, base.shape[1] - left), min(h, base.shape[0] - top)
                feather = max(2, min(w, h) // 8)
                paste(base, with_change(crop, before, after, (w, h)), (left, top, w, h), feather=feather)
                pasted.append((left, top, w, h, feather))
            self._pasted = (pasted, (base.shape[1], base.shape[0]))
        with self._lock:
            self._stylise_ms.append((time.perf_counter() - started) * 1000)
        self.stylised = len(boxes)
        self.frames_with_faces += bool(boxes)
        return base

    def _base(self, frame: np.ndarray) -> np.ndarray:
        if self.frames is not None:
            return self.frames(frame)
        picture = frame[..., :3]
        if self.output_size and self.output_size != (frame.shape[1], frame.shape[0]):
            return resize(picture, self.output_size)
        return picture.copy()  # never the capture's own buffer: crops are cut from it, and it is shown beside

    @staticmethod
    def _small_copy(frame: np.ndarray) -> np.ndarray:
        width = frame.shape[1]
        if width <= DETECT_WIDTH:
            return frame[..., :3].copy()
        height = max(1, round(frame.shape[0] * DETECT_WIDTH / width))
        return resize(frame[..., :3], (DETECT_WIDTH, height))

    # detection -----------------------------------------------------------------------------------------------
    def _detect(self, small: np.ndarray, width: int, now: float) -> None:
        started = time.perf_counter()
        scale = width / small.shape[1]
        found = [(x * scale, y * scale, w * scale, h * scale) for x, y, w, h, _ in self.detector.detect(small)]
        elapsed = (time.perf_counter() - started) * 1000
        boxes = self.tracks.update(found, now)
        with self._lock:
            self._boxes = boxes
            self._detect_ms.append(elapsed)
        self.in_view = len(boxes)
        self.detections += 1

    def _detect_loop(self) -> None:
        assert self.detect_fps is not None, "the thread runs only for live detection"
        interval = 1.0 / self.detect_fps
        while not self._stop.is_set():
            item = self._inbox.take(0.1)
            if item is None:
                continue
            began = time.perf_counter()
            try:
                self._detect(*item)
                self.detect_error = None
            except Exception as error:  # noqa: BLE001 — the last boxes stay; the HUD shows why (the next may work)
                self.detect_error = f"face detection failed: {type(error).__name__}: {error}"
            rest = interval - (time.perf_counter() - began)
            if rest > 0:
                self._stop.wait(rest)
            self._wanted.set()
