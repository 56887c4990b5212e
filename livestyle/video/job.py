"""Stylise a whole video: decode → stylise → finish (stabilise, resize, compose) → encode, a thread each.
With --stabilize, the optical flow between source frames (the stabiliser's costly half, which needs no
stylised frame) is computed as soon as a frame is decoded, for several frames at once on a thread
pool; the finish stage only warps and blends, in frame order.

    stats = stylize_video("in.mp4", "out.mp4", Stylizer(weights, size=(640, 360)), stabilizer=Stabilizer(0.5))

Stages hand frames over through small bounded queues, so the slowest stage sets the pace and memory
stays flat. The output is written to a private temporary file next to OUT (livestyle.core.files.atomic_path:
mkstemp, so no link planted under a name we might use is ever followed) and moved onto OUT only when
it is complete: an interrupted or failed run leaves OUT as it was (absent, or the old file). A
source that ends early (cut off, damaged) fails the run too, unless allow_truncated.
"""
from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livestyle.core.errors import LivestyleError
from livestyle.core.files import atomic_path, check_apart, check_writable, describe
from livestyle.core.images import resize_bgr
from livestyle.runtime.flow import to_grey
from livestyle.video.io import RE_ENCODE, TruncatedVideo, VideoReader, VideoWriter

QUEUE_FRAMES = 4  # per hand-over; enough to ride out jitter, small enough for 4K frames
MOTION_THREADS = max(1, min(8, (os.cpu_count() or 2) // 2))  # optical flow for several frames at once
DONE = object()


def check_paths(source: Path, output: Path, overwrite: bool) -> None:
    """The input/output problems that must stop a run before it starts."""
    if not source.exists():
        raise LivestyleError(f"{source}: no such file")
    if output.exists() and output.is_dir():
        raise LivestyleError(f"{output} is a folder; give the output video's file name, e.g. {output}/styled.mp4")
    if output.resolve() == source.resolve() or (output.exists() and os.path.samefile(output, source)):
        raise LivestyleError(f"{output} is the input video; write the result to another file, e.g. "
                             f"{source.with_name(source.stem + '-styled.mp4')}")
    check_apart({"OUT": output}, {"IN": source})
    if not output.suffix:
        raise LivestyleError(f"{output}: no file extension to choose a container by; end it in .mp4, .mkv or .mov")
    if output.exists() and not overwrite:
        raise LivestyleError(f"{output} exists; add --overwrite to replace it, or choose another name")
    check_writable(output, "OUT")


def nearest_folder(path: Path) -> Path:
    folder = Path(os.path.abspath(path)).parent
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
    return folder


def check_container(source, output: Path, size: tuple[int, int], codec: str, crf: int | None,
                    audio: bool) -> None:
    """Open (and throw away) the output as it will be written: container, codec and audio problems show now,
    before any model is loaded. The trial file is a private mkstemp file, removed at once."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".trial{output.suffix}",
                                    dir=nearest_folder(output))
    except OSError as error:
        raise LivestyleError(describe(error, output)) from None
    os.close(fd)
    try:
        VideoWriter(name, source, size, codec=codec, crf=crf, audio=audio, shown_as=output).abandon()
    except OSError as error:  # PyAV's own OSErrors (a full disk writing the header) are FFmpegErrors too
        raise LivestyleError(describe(error, output)) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


@contextlib.contextmanager
def parent_folders(output: Path):
    """OUT's missing folders, made for the run and removed again if it fails (only those it made)."""
    made, folder = [], output.parent
    while not folder.exists():
        made.append(folder)
        folder = folder.parent
    try:
        for folder in reversed(made):
            folder.mkdir()
    except OSError as error:
        raise LivestyleError(describe(error, output)) from None
    try:
        yield
    except BaseException:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def label(image: np.ndarray, text: str, x: int = 0) -> None:
    """White text with a dark outline in the top-left corner of the part of `image` starting at column x."""
    scale = max(0.45, image.shape[0] / 720)
    origin = (x + int(12 * scale), int(32 * scale))
    for colour, thickness in (((0, 0, 0), max(2, int(5 * scale))), ((255, 255, 255), max(1, int(2 * scale)))):
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, colour, thickness, cv2.LINE_AA)


def side_by_side(source: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """source | styled, each at styled's size, labelled in the top-left corners."""
    height, width = styled.shape[:2]
    both = np.empty((height, 2 * width, 3), np.uint8)
    both[:, :width] = resize_bgr(source, (width, height))
    both[:, width:] = styled
    label(both, "source")
    label(both, "livestyle", width)
    return both


class _Stages:
    """Shared stop flag, first error, and time spent per stage."""

    def __init__(self, source: Path, output: Path):
        self.paths = {"decode": source, "encode": output}
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.seconds = {"decode": 0.0, "stylize": 0.0, "motion": 0.0, "finish": 0.0, "encode": 0.0}
        self.lock = threading.Lock()

    def fail(self, stage: str, error: BaseException) -> None:
        if self.error is None:
            if isinstance(error, LivestyleError):
                self.error = error
            elif isinstance(error, OSError) and error.errno and stage in self.paths:  # a full disk, a lost drive
                doing = "cannot read" if stage == "decode" else "cannot write"
                self.error = LivestyleError(describe(error, self.paths[stage], doing))
            else:
                self.error = LivestyleError(f"{stage} failed: {type(error).__name__}: {error}")
        self.stop.set()

    def put(self, box: queue.Queue, item) -> bool:
        while not self.stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, box: queue.Queue):
        while True:
            try:
                return box.get(timeout=0.1)
            except queue.Empty:
                if self.stop.is_set():
                    return DONE

    def thread(self, name: str, body) -> threading.Thread:
        def run():
            try:
                body()
            except BaseException as error:  # noqa: BLE001 — handed to the main thread, raised there
                self.fail(name, error)

        worker = threading.Thread(target=run, name=f"livestyle-video-{name}", daemon=True)
        worker.start()
        return worker


def stylize_video(source: str | Path, output: str | Path, stylizer, *, stabilizer=None,
                  output_size: tuple[int, int] | None = None, compare: bool = False, codec: str = "libx264",
                  crf: int | None = 18, overwrite: bool = False, progress: bool = True, audio: bool = True,
                  allow_truncated: bool = False, grain=None) -> dict:
    """Stylise every frame of `source` into `output` (same frame count and time stamps, audio carried over).

    stylizer: a livestyle Stylizer (or any callable BGR frame → stylised BGR frame, with .size).
    stabilizer: a livestyle Stabilizer, or None.  output_size: (width, height); default the source's.
    grain: a livestyle FilmGrain drawn on each frame after the stabiliser, at the output size; or None.
    compare: write source | stylised side by side (twice as wide).  allow_truncated: a source that ends
    before the frames its container declares is written as far as it decodes (with a note), instead of
    failing.  Returns the run's numbers; stage_ms is each stage's busy time per frame (motion: summed over
    its MOTION_THREADS threads)."""
    source, output = Path(source), Path(output)
    check_paths(source, output, overwrite)
    with parent_folders(output):
        reader = VideoReader(source)
        try:
            with atomic_path(output, replace=overwrite) as temporary:
                stats = _stylize(reader, source, output, temporary, stylizer, stabilizer, output_size, compare, codec,
                                 crf, progress, audio, allow_truncated, grain)
        finally:
            reader.close()
    return stats


def _stylize(reader: VideoReader, source: Path, output: Path, temporary: Path, stylizer, stabilizer, output_size,
             compare: bool, codec: str, crf: int | None, progress: bool, audio: bool, allow_truncated: bool,
             grain=None) -> dict:
    from tqdm import tqdm

    run = _Run(reader, source, output, stylizer, stabilizer, output_size, compare, allow_truncated, grain)
    closed = False
    began = time.perf_counter()
    try:
        run.writer = VideoWriter(temporary, reader.info, run.frame_size, codec=codec, crf=crf, audio=audio,
                                 shown_as=output)
        run.bar = tqdm(total=reader.info.frames, unit="frame", desc=output.name, disable=not progress,
                       dynamic_ncols=True, smoothing=0.1)
        run.workers = [run.stages.thread("decode", run.decode), run.stages.thread("finish", run.finish),
                       run.stages.thread("encode", run.encode)]
        run.stylize_frames()  # on this thread: Ctrl+C lands here
        run.wait_for_workers()
        if run.writer.frames == 0:
            raise LivestyleError(f"{source}: has no video frames to stylise; check that it plays")
        run.close_writer()
        closed = True
    except BaseException as error:
        run.stages.fail("stylize", error)
        raise
    finally:
        run.tear_down(closed)
    return run.stats(time.perf_counter() - began)


class _Run:
    """One run of stylize_video: what its stages share, and a method per stage. decode, finish and encode
    run on threads of their own (_Stages.thread); the stylise stage runs on the calling thread."""

    def __init__(self, reader: VideoReader, source: Path, output: Path, stylizer, stabilizer, output_size,
                 compare: bool, allow_truncated: bool, grain=None):
        self.reader, self.source, self.output = reader, source, output
        self.stylizer, self.stabilizer, self.grain = stylizer, stabilizer, grain
        self.compare, self.allow_truncated = compare, allow_truncated
        info = reader.info
        self.size = tuple(output_size) if output_size else info.size
        self.frame_size = (2 * self.size[0], self.size[1]) if compare else self.size
        self.stages = _Stages(source, output)
        self.decoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.styled_frames: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.finished: queue.Queue = queue.Queue(QUEUE_FRAMES)
        self.previous_grey: np.ndarray | None = None  # the stabiliser's flow: the last frame, in grey
        self.pool = ThreadPoolExecutor(MOTION_THREADS, thread_name_prefix="livestyle-video-motion") \
            if stabilizer is not None else None
        self.writer: VideoWriter | None = None  # opened by stylize_video before the stages start
        self.bar: Any = None  # tqdm's bar, likewise
        self.workers: list[threading.Thread] = []

    def timed_motion(self, previous_grey, grey):
        clock = time.perf_counter()
        motion = self.stabilizer.motion(previous_grey, grey)
        with self.stages.lock:
            self.stages.seconds["motion"] += time.perf_counter() - clock
        return motion

    def start_motion(self, image: np.ndarray, styled: np.ndarray):
        """The stabiliser's flow from the last source frame to this one, at the size of the stylised
        picture (what the stylizer hands back), started on the motion threads; None without a stabiliser."""
        if self.pool is None:
            return None
        clock = time.perf_counter()
        grey = to_grey(image, (styled.shape[1], styled.shape[0]))
        with self.stages.lock:
            self.stages.seconds["motion"] += time.perf_counter() - clock
        motion = self.pool.submit(self.timed_motion, self.previous_grey, grey)
        self.previous_grey = grey
        return motion

    def decode(self) -> None:
        stages = self.stages
        clock = time.perf_counter()
        try:
            for _index, pts, image in self.reader.frames(allow_truncated=self.allow_truncated):
                stages.seconds["decode"] += time.perf_counter() - clock
                if not stages.put(self.decoded, (pts, image)):
                    return
                clock = time.perf_counter()
        except TruncatedVideo as error:
            raise LivestyleError(f"{error.detail}; nothing was written. Add --allow-truncated to write the "
                                 f"{error.read} frames that decode, or {RE_ENCODE}") from None
        stages.put(self.decoded, DONE)

    def stylize_frames(self) -> None:
        stages = self.stages
        stylised = 0
        while (item := stages.get(self.decoded)) is not DONE:
            clock = time.perf_counter()
            pts, image = item
            styled = self.stylize(image, stylised + 1)
            stages.seconds["stylize"] += time.perf_counter() - clock
            motion = self.start_motion(image, styled)
            stylised += 1
            where = self.grain.where() if self.grain is not None else None  # this picture's, read on its thread
            if not stages.put(self.styled_frames, (pts, image, motion, styled, where)):
                return  # stopped: another stage failed
        stages.put(self.styled_frames, DONE)

    def stylize(self, image: np.ndarray, number: int) -> np.ndarray:
        try:
            return self.stylizer(image)
        except LivestyleError:
            raise
        except Exception as error:
            name = self.stylizer.name
            text = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            engine = self.stylizer.engine_file
            if engine:
                raise LivestyleError(f"stylising frame {number} failed in the engine {engine} on {name} ({text}); "
                                     f"rebuild it with python scripts/build_engine.py, or try --backend torch-cpu"
                                     ) from error
            raise LivestyleError(f"stylising frame {number} failed on {name} ({text}); "
                                 f"try --backend torch-cpu") from error

    def finish(self) -> None:
        stages = self.stages
        while (item := stages.get(self.styled_frames)) is not DONE:
            pts, image, motion, styled, where = item
            if motion is not None:
                motion = motion.result()  # usually done: it ran while the next frame was stylised
            clock = time.perf_counter()
            if self.stabilizer is not None:
                styled = self.stabilizer.apply(styled, motion)
            styled = resize_bgr(styled, self.size)
            if self.grain is not None:
                styled = self.grain(styled, where)  # after the stabiliser, at the size it is shown: never blended
            if self.compare:
                styled = side_by_side(image, styled)
            stages.seconds["finish"] += time.perf_counter() - clock
            if not stages.put(self.finished, (pts, styled)):
                return
        stages.put(self.finished, DONE)

    def encode(self) -> None:
        stages = self.stages
        while (item := stages.get(self.finished)) is not DONE:
            clock = time.perf_counter()
            self.opened.write(item[1], item[0])
            stages.seconds["encode"] += time.perf_counter() - clock
            self.bar.update(1)

    def wait_for_workers(self) -> None:
        """Until every frame is written (or a stage failed: then its error is raised here)."""
        for worker in self.workers:
            while worker.is_alive():
                worker.join(0.2)
        if self.stages.error is not None:
            raise self.stages.error

    @property
    def opened(self) -> VideoWriter:
        """The writer, once stylize_video has opened it."""
        assert self.writer is not None, "stylize_video opens the writer before the stages start"
        return self.writer

    def close_writer(self) -> None:
        clock = time.perf_counter()
        try:
            # The encoder's last frames, the rest of the audio and the trailer: the disk may fill here.
            self.opened.close()
        except OSError as error:
            raise LivestyleError(describe(error, self.output)) from None
        self.stages.seconds["encode"] += time.perf_counter() - clock

    def tear_down(self, closed: bool) -> None:
        """Stop and wait for the stages, whether the run ended well or not; abandon an unfinished output."""
        if not closed:
            self.stages.stop.set()
        for worker in self.workers:  # before the reader and writer close under them
            worker.join(5.0)
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        if self.bar is not None:
            self.bar.close()
        if not closed and self.writer is not None:
            self.writer.abandon()

    def stats(self, seconds: float) -> dict:
        reader, writer = self.reader, self.opened
        frames = writer.frames
        notes = list(writer.notes)
        if reader.truncated:
            notes.append(f"warning: {reader.truncated}; --allow-truncated: wrote the {frames} frames that decode")
        return {
            "input": str(self.source), "output": str(self.output), "frames": frames, "seconds": round(seconds, 3),
            "fps": round(frames / seconds, 2) if seconds > 0 else None,
            "stage_ms": {name: round(value / frames * 1000, 2) for name, value in self.stages.seconds.items()},
            "input_size": list(reader.info.size), "output_size": list(self.frame_size),
            "inference_size": list(self.stylizer.size), "backend": self.stylizer.name,
            "stabilize": self.stabilizer.strength if self.stabilizer is not None else 0.0,
            "grain": self.grain.amount if self.grain is not None else 0.0,
            "codec": writer.codec_name, "notes": notes,
            "motion_threads": MOTION_THREADS if self.pool else 0, "truncated": reader.truncated,
        }
