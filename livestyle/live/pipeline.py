"""The live pipeline: capture → inference → display, each on its own thread, never waiting on each other.

    pipeline = Pipeline(lambda: ScreenSource(target), stylizer, fps_cap=30, on_result=notify_gui)
    pipeline.start()
    ...                       # GUI thread: styled = pipeline.take(); show it; pipeline.mark_shown(styled)
    pipeline.stop()

Capture runs at most `fps_cap` grabs a second; its source is created inside the capture thread (mss:
one instance per thread). Each hand-over is a one-slot `LatestBox`: putting a new frame replaces an
unconsumed one, which is counted as dropped — nothing is ever queued, so a slow stage makes frames
skip, never makes them old. Every record carries the capture time (time.perf_counter), so the display
can measure end-to-end latency. A backend that fails mid-run is replaced by the `fallback` stylizer
(torch-cpu) with a warning; a failure with no fallback left, or a capture that stops working, is
reported through `on_event("error", message)` and stops the pipeline — never silently.
"""
from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from livestyle.core.errors import LivestyleError
from livestyle.core.images import resize_bgr
from livestyle.core.latest import LatestBox

FPS_WINDOW_S = 2.0  # the HUD's rates are over the last two seconds
RECENT = 120  # the HUD's medians are over the last 120 values
RUN_VALUES = 200_000  # per-run percentiles keep this many values (about 2 hours at 30 fps)


@dataclass
class Captured:
    index: int
    image: np.ndarray  # H×W×4 BGRA (or ×3 BGR), a view of the capture buffer
    time: float  # perf_counter when the grab started


@dataclass
class Styled:
    index: int
    captured: float  # perf_counter of the capture
    image: np.ndarray  # stylised, uint8 H×W×3 BGR at the inference size
    source: np.ndarray  # the captured frame it was made from
    original: np.ndarray | None  # the capture at the inference size (BGR), when the display asked for it
    infer_ms: float
    backend: str


def span(first: float | None, last: float | None) -> float:
    """Seconds from the first to the last of something (0 before there were two)."""
    return last - first if first and last else 0.0


def percentile(values, fraction: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def rate(times) -> float:
    """Events per second over the recent timestamps."""
    if len(times) < 2:
        return 0.0
    now = time.perf_counter()
    recent = [t for t in times if now - t <= FPS_WINDOW_S]
    if len(recent) < 2:
        return 0.0
    return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


@dataclass
class Stats:
    """Counters and timings of one run; safe to update from any thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.perf_counter)
    captured: int = 0
    inferred: int = 0
    shown: int = 0
    display_dropped: int = 0  # results replaced in the display before they were painted
    capture_times: deque = field(default_factory=lambda: deque(maxlen=512))
    shown_times: deque = field(default_factory=lambda: deque(maxlen=512))
    infer_recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))
    latency_recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))
    infer_all: deque = field(default_factory=lambda: deque(maxlen=RUN_VALUES))
    latency_all: deque = field(default_factory=lambda: deque(maxlen=RUN_VALUES))
    first_capture: float | None = None
    last_capture: float | None = None
    first_shown: float | None = None
    last_shown: float | None = None

    def record_capture(self, when: float) -> None:
        with self.lock:
            self.captured += 1
            self.capture_times.append(when)
            self.first_capture = self.first_capture or when
            self.last_capture = when

    def record_inference(self, ms: float) -> None:
        with self.lock:
            self.inferred += 1
            self.infer_recent.append(ms)
            self.infer_all.append(ms)

    def record_shown(self, captured: float, when: float) -> float:
        latency = (when - captured) * 1000
        with self.lock:
            self.shown += 1
            self.shown_times.append(when)
            self.latency_recent.append(latency)
            self.latency_all.append(latency)
            self.first_shown = self.first_shown or when
            self.last_shown = when
        return latency

    def record_display_drop(self) -> None:
        with self.lock:
            self.display_dropped += 1


class Pipeline:
    """Capture and inference threads joined by one-slot hand-overs; see the module docstring.

    source_factory: called in the capture thread; returns an object with grab() -> uint8 H×W×4|3 array
        and close(). A LivestyleError from either is reported as is.
    stylizer: a livestyle Stylizer (or anything with __call__(frame) -> BGR array, .name, .size).
    fallback: called in the inference thread when the stylizer fails mid-run; returns the stylizer to
        continue with (torch-cpu). Not called when the failing stylizer is already torch-cpu.
    on_result(): called (from the inference thread) after each new result; keep it cheap and thread-safe.
    on_event(kind, message): "warning" or "error", from any thread.
    stabilizer: a livestyle Stabilizer blending each result with the previous one along the captured
        frames' optical flow (less flicker); its time counts as inference time.
    grain: draw the stylizer's film grain (FrameStylizer.film_grain) on each result after the stabiliser;
        `grain_on` switches it off and on (the G key).
    """

    def __init__(self, source_factory: Callable, stylizer, *, fps_cap: float = 30.0,
                 fallback: Callable | None = None, on_result: Callable | None = None,
                 on_event: Callable | None = None, stabilizer=None, grain: bool = False):
        if not 0 < fps_cap < float("inf"):  # NaN fails this too
            raise LivestyleError(f"fps cap {fps_cap}: give a positive, finite number of frames a second")
        self.source_factory = source_factory
        self.stylizer = stylizer
        self.fps_cap = float(fps_cap)
        self.fallback = fallback
        self.on_result = on_result
        self.on_event = on_event
        self.stabilizer = stabilizer  # a livestyle Stabilizer, or None; applied at the inference size
        # Film grain, drawn after the stabiliser: the stylizer's (each model's own, after a swap) when asked
        # for; grain_on is the G key's switch.
        self.grain_wanted = grain
        self.grain = stylizer.film_grain() if grain else None
        self.grain_on = True
        self.stats = Stats()
        self.to_inference = LatestBox()
        self.to_display = LatestBox()
        self.want_original = False
        self.error: str | None = None
        self.events: list[tuple[str, str]] = []
        self.capture_rect = None  # the source's rectangle, when it has one (for the overlap check)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._swap: list = []
        self._swap_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # control ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            raise RuntimeError("pipeline already started")
        self.stats = Stats()
        for name, target in (("livestyle-capture", self._capture_loop), ("livestyle-inference", self._inference_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 3.0) -> bool:
        """Stop both threads; True if they ended within `timeout` (a hung backend call is left behind as a
        daemon thread rather than hanging the app)."""
        self._stop.set()
        self._running.set()
        self.to_inference.close()
        self.to_display.close()
        deadline = time.perf_counter() + timeout
        ended = True
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
            ended = ended and not thread.is_alive()
        return ended

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._running.clear()
        else:
            self._running.set()

    def swap_stylizer(self, stylizer) -> None:
        """Use another stylizer from the next frame on (the old one is closed by the inference thread)."""
        with self._swap_lock:
            self._swap.append(stylizer)

    @property
    def backend_name(self) -> str:
        return self.stylizer.name

    # display side -------------------------------------------------------------------------------
    def take(self) -> Styled | None:
        """The newest result not yet taken (never waits)."""
        return self.to_display.take(0)

    def mark_shown(self, styled: Styled, when: float | None = None) -> float:
        """Record that `styled` is on screen now; returns its end-to-end latency in ms."""
        return self.stats.record_shown(styled.captured, time.perf_counter() if when is None else when)

    # reporting ----------------------------------------------------------------------------------
    def _event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))
        if self.on_event is not None:
            try:
                self.on_event(kind, message)
            except Exception:  # noqa: BLE001 — a broken listener must not kill the pipeline
                pass

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message
            self._event("error", message)
        self._stop.set()
        self.to_inference.close()
        self.to_display.close()

    def snapshot(self) -> dict:
        """The HUD's numbers, now."""
        stats = self.stats
        with stats.lock:
            infer = list(stats.infer_recent)
            latency = list(stats.latency_recent)
            capture_times, shown_times = list(stats.capture_times), list(stats.shown_times)
            counts = dict(captured=stats.captured, inferred=stats.inferred, shown=stats.shown,
                          display_dropped=stats.display_dropped)
        return {
            "capture_fps": rate(capture_times),
            "display_fps": rate(shown_times),
            "inference_ms": statistics.median(infer) if infer else None,
            "latency_ms": statistics.median(latency) if latency else None,
            "latency_p95_ms": percentile(latency, 0.95),
            "dropped_capture": self.to_inference.dropped,
            "dropped_display": self.to_display.dropped + counts["display_dropped"],
            "backend": self.backend_name,
            **counts,
        }

    def summary(self) -> dict:
        """The numbers over the whole run (for --stats)."""
        stats = self.stats
        with stats.lock:
            infer, latency = list(stats.infer_all), list(stats.latency_all)
            captured, inferred, shown = stats.captured, stats.inferred, stats.shown
            span_capture = span(stats.first_capture, stats.last_capture)
            span_shown = span(stats.first_shown, stats.last_shown)
            display_dropped = stats.display_dropped
        return {
            "frames": {"captured": captured, "inferred": inferred, "shown": shown},
            "dropped": {"capture_to_inference": self.to_inference.dropped,
                        "inference_to_display": self.to_display.dropped + display_dropped},
            "fps": {"capture": (captured - 1) / span_capture if captured > 1 and span_capture > 0 else 0.0,
                    "display": (shown - 1) / span_shown if shown > 1 and span_shown > 0 else 0.0},
            "inference_ms": {"median": statistics.median(infer) if infer else None,
                             "p95": percentile(infer, 0.95)},
            "latency_ms": {"median": statistics.median(latency) if latency else None,
                           "p95": percentile(latency, 0.95), "max": max(latency) if latency else None},
            "backend": self.backend_name,
            "events": [{"kind": kind, "message": message} for kind, message in self.events],
        }

    # threads ------------------------------------------------------------------------------------
    def _capture_loop(self) -> None:
        try:
            source = self.source_factory()
        except LivestyleError as error:
            self._fail(str(error))
            return
        except Exception as error:  # noqa: BLE001
            self._fail(f"screen capture could not start: {type(error).__name__}: {error}")
            return
        self.capture_rect = getattr(source, "rect", None)
        period = 1.0 / self.fps_cap
        next_time = time.perf_counter()
        index = 0
        try:
            while not self._stop.is_set():
                if not self._running.is_set():
                    self._running.wait(0.1)
                    next_time = time.perf_counter()
                    continue
                now = time.perf_counter()
                if now < next_time:
                    self._stop.wait(next_time - now)
                    continue
                next_time = max(next_time + period, now)  # never burst to catch up
                started = time.perf_counter()
                image = source.grab()
                self.capture_rect = getattr(source, "rect", None)
                self.stats.record_capture(started)
                self.to_inference.put(Captured(index, image, started))
                index += 1
        except LivestyleError as error:
            self._fail(str(error))
        except Exception as error:  # noqa: BLE001
            self._fail(f"screen capture failed: {type(error).__name__}: {error}")
        finally:
            try:
                source.close()
            except Exception:  # noqa: BLE001
                pass

    def _take_swap(self) -> None:
        with self._swap_lock:
            if not self._swap:
                return
            new, self._swap = self._swap[-1], []
        old, self.stylizer = self.stylizer, new
        if self.grain_wanted:
            self.grain = new.film_grain()
        if self.stabilizer is not None:
            self.stabilizer.reset()  # another model: don't blend its first frames with the old one's
        if old is not new:
            try:
                old.close()
            except Exception:  # noqa: BLE001
                pass

    def _handle_failure(self, error: Exception) -> bool:
        """True when inference can go on (with the fallback), False when the pipeline must stop."""
        name = self.backend_name
        text = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        if name == "torch-cpu" or self.fallback is None:
            self._fail(f"inference failed on {name} ({text}); no other backend to fall back to")
            return False
        self._event("warning", f"backend {name} failed mid-run ({text}); falling back to torch-cpu")
        try:
            replacement = self.fallback()
        except Exception as fallback_error:  # noqa: BLE001
            self._fail(f"backend {name} failed mid-run ({text}) and the torch-cpu fallback could not start "
                       f"({fallback_error})")
            return False
        old, self.stylizer = self.stylizer, replacement
        try:
            old.close()
        except Exception:  # noqa: BLE001
            pass
        self._event("warning", f"now running on {self.backend_name}")
        return True

    def _inference_loop(self) -> None:
        while not self._stop.is_set():
            item = self.to_inference.take(0.1)
            if item is None:
                continue
            self._take_swap()
            stylizer = self.stylizer
            began = time.perf_counter()
            try:
                image = stylizer(item.image)
                stabilizer = self.stabilizer  # the window may switch it (T) at any moment
                if stabilizer is not None:
                    image = stabilizer(item.image, image)
                grain = self.grain
                if grain is not None and self.grain_on:
                    image = grain(image, grain.where())
            except Exception as error:  # noqa: BLE001 — any backend failure: fall back or stop, loudly
                if not self._handle_failure(error):
                    return
                continue
            infer_ms = (time.perf_counter() - began) * 1000
            self.stats.record_inference(infer_ms)
            original = None
            if self.want_original:
                original = resize_bgr(item.image, (image.shape[1], image.shape[0]))
            self.to_display.put(Styled(item.index, item.time, image, item.image, original, infer_ms,
                                       stylizer.name))
            if self.on_result is not None:
                try:
                    self.on_result()
                except Exception:  # noqa: BLE001
                    pass
