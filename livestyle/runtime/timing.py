"""`--backend auto`: the fastest backend this machine can run for these weights at this size.

Every backend that can run is opened and timed once (frame in → frame out, median of a few runs at
the inference size); the winner is kept, the others closed. The timings are cached per (weights
sha256, size, device, threads) in a JSON file — $LIVESTYLE_CACHE_DIR/backends.json, else
$XDG_CACHE_HOME (or ~/.cache)/livestyle/backends.json — and reused while the same backends are
available; an entry of the wrong shape (a damaged or hand-edited cache) is timed again, never
trusted. A TensorRT engine is a candidate only when its sidecar fits the weights, the size, this
GPU and this TensorRT version and records a passed parity check. If the chosen backend fails to
load, the next fastest is taken, with a message. The report says, for every backend, why it was
or was not used.
"""
from __future__ import annotations

import math
import os
import statistics
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from livestyle.core.checks import FileCheck
from livestyle.core.declared import Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import describe, write_json
from livestyle.core.logs import LOGGER, say
from livestyle.core.sizes import format_size
from livestyle.model.loaded import Model
from livestyle.runtime.backends import NAMES, Backend, batch_flag, open_backend, unavailable
from livestyle.runtime.engines.sidecars import select_artifact
from livestyle.runtime.frames import FrameConverter
from livestyle.runtime.machine import Machine

CACHE_ENV = "LIVESTYLE_CACHE_DIR"


def default_cache_path() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "backends.json"
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "livestyle" / "backends.json"


def cache_output() -> Output:
    """The cache as a command declares it: its own file, replaced by design; best effort (a cache that
    cannot be written only means timing again next time)."""
    return Output("the backend timing cache", default_cache_path(), owned=True, best_effort=True)


def read_cache(path: Path) -> dict:
    """The cache as a dict of entries (each checked when used, by cached_entry); {} when it is
    missing, damaged or not a JSON object: then everything is timed again."""
    try:
        cache = FileCheck(path, "").load_json()
    except LivestyleError:
        return {}
    return cache if isinstance(cache, dict) else {}


def cached_entry(cache: dict, key: str, available: list[str]) -> dict | None:
    """The cache's entry for this key if it has the shape choose() reads and was timed with the same
    candidates; None (time again) otherwise."""
    entry = cache.get(key)
    if not isinstance(entry, dict):
        return None
    timings, candidates = entry.get("timings_ms"), entry.get("candidates")
    if not isinstance(timings, dict) or not timings or not isinstance(candidates, list):
        return None
    if not all(isinstance(name, str) for name in candidates) or sorted(candidates) != sorted(available):
        return None
    if not all(name in available and isinstance(ms, (int, float)) and not isinstance(ms, bool)
               and math.isfinite(ms) and ms >= 0 for name, ms in timings.items()):
        return None
    if not isinstance(entry.get("measured", "?"), str):
        return None
    return entry


def median_ms(call, *, min_runs: int = 3, max_runs: int = 20, seconds: float = 1.5,
              too_slow_ms: float = math.inf) -> float:
    """Median milliseconds of call() after one warm-up call: at least min_runs, then more while
    under max_runs and `seconds`. The one timer of backends (here) and of sizes (--size auto):
    a warm-up slower than too_slow_ms is returned as it is, since timing more of it says nothing new."""
    began = time.perf_counter()
    call()
    warm_up = (time.perf_counter() - began) * 1000
    if warm_up > too_slow_ms:
        return warm_up
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < min_runs or (len(times) < max_runs and time.perf_counter() - started < seconds):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def time_backend(backend: Backend) -> float:
    """Median ms per frame, frame in → frame out, at the backend's size."""
    convert = FrameConverter(backend)
    width, height = backend.size
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    ms = median_ms(lambda: convert(frame))
    LOGGER.debug("auto: %s (%s) at %dx%d: %.2f ms/frame", backend.name, backend.detail, width, height, ms)
    return ms


def choose(model: Model, size: tuple[int, int], machine: Machine, *, engines_dir="engines", engine=None,
           threads: int | None = None, cuda_mode: str = "graph", cache_path=None, log=say,
           candidates=NAMES, batch: int = 1) -> tuple[Backend, list[str]]:
    lines: dict[str, str] = {}
    available = []
    for name in candidates:
        reason = unavailable(name, machine, model)
        if reason is None and name == "tensorrt" and engine is None:
            path, refused = select_artifact(engines_dir, "tensorrt", machine, weights_sha256=model.sha256, size=size,
                                            batch=batch)
            if path is None:
                reason = (f"no usable engine for these weights at {format_size(size)} in {engines_dir}/"
                          + (f" ({'; '.join(refused)})" if refused else "")
                          + f"; build one with python scripts/build_engine.py --size {format_size(size)}"
                          + batch_flag(batch, model.kind))
        if reason:
            lines[name] = reason
        else:
            available.append(name)
    cache_file = Path(cache_path) if cache_path else default_cache_path()
    cache = read_cache(cache_file)
    key = f"{model.sha256} {format_size(size)} {machine.device_key} threads={threads or machine.cores}"
    key += f" batch={batch}" if batch != 1 else ""
    entry = cached_entry(cache, key, available)
    options = dict(engines_dir=engines_dir, engine=engine, threads=threads, cuda_mode=cuda_mode, log=log, batch=batch)

    def finish(chosen: str, how: str) -> list[str]:
        return [f"{name}: {lines[name]}" + ("  <- chosen" if name == chosen else "") for name in candidates
                if name in lines] + [f"auto: {chosen} ({how})"]

    if entry is not None:
        timings = entry["timings_ms"]
        for name in sorted(available, key=lambda n: timings.get(n, float("inf"))):
            lines[name] = (f"{timings[name]:.1f} ms/frame (cached, {entry.get('measured', '?')})" if name in timings
                           else "failed when last timed")
        for name in sorted(available, key=lambda n: timings.get(n, float("inf"))):
            try:
                cached = open_backend(name, model, size, machine, **options)
            except Exception as error:  # noqa: BLE001 — any failure to load means: take the next one
                lines[name] = f"failed to load ({error}); falling back"
                log(f"auto: {name} failed to load ({error}); falling back to the next fastest")
                continue
            lines[name] += f", {cached.detail}"
            return cached, finish(name, f"fastest at {format_size(size)}, timings cached in {cache_file}")
        raise LivestyleError("auto: no backend could be loaded: " + "; ".join(f"{n}: {r}" for n, r in lines.items()))

    timings, best = {}, None
    for name in available:
        backend: Backend | None = None
        try:
            backend = open_backend(name, model, size, machine, **options)
            timings[name] = time_backend(backend)
        except Exception as error:  # noqa: BLE001
            if backend is not None:
                backend.close()
            lines[name] = f"failed to load or run ({error}); skipped"
            log(f"auto: {name} failed ({error}); trying the others")
            continue
        lines[name] = f"{timings[name]:.1f} ms/frame ({backend.detail})"
        if best is None or timings[name] < timings[best.name]:
            if best is not None:
                best.close()
            best = backend
        else:
            backend.close()
    if best is None:
        raise LivestyleError("auto: no backend could be loaded: " + "; ".join(f"{n}: {r}" for n, r in lines.items()))
    cache[key] = {"backend": best.name, "timings_ms": timings, "candidates": available, "size": list(size),
                  "device": machine.device_key, "weights": str(model.path) if model.path else model.label,
                  "measured": datetime.now().isoformat(timespec="seconds")}
    kept = f"cached in {cache_file}"
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        write_json(cache_file, cache)
    except (OSError, LivestyleError) as error:  # a cache is only a speed-up: the chosen backend runs anyway
        why = describe(error, cache_file) if isinstance(error, OSError) else str(error)
        kept = "not cached: timed again next time"
        log(f"auto: the backend cache cannot be written ({why}); set {CACHE_ENV} to a folder you can write to")
    how = f"fastest of {len(timings)} timed at {format_size(size)}, {kept}"
    return best, finish(best.name, how)
