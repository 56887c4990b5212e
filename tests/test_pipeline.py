"""The live pipeline without a screen or a window: one-slot hand-overs, dropping instead of queueing
with a deliberately slow real stylizer, latency that stays bounded, fallback and failures."""
import threading
import time

import numpy as np
import pytest
import torch

from livestyle.core.errors import LivestyleError
from livestyle.core.latest import LatestBox
from livestyle.live.pipeline import Pipeline, percentile
from livestyle.model.generator import Generator
from livestyle.runtime.stylizer import Stylizer

SIZE = (64, 48)


class MovingSource:
    """A fake screen: BGRA frames whose content changes every grab."""

    rect = (0, 0, 128, 96)

    def __init__(self):
        self.count = 0
        self.closed = False
        self.thread = None

    def grab(self):
        self.thread = threading.current_thread().name
        self.count += 1
        frame = np.zeros((96, 128, 4), np.uint8)
        frame[..., 1] = self.count % 256
        frame[:, : self.count % 128, 2] = 255
        return frame

    def close(self):
        self.closed = True


class Slow:
    """A real stylizer that takes at least `delay` seconds a frame."""

    def __init__(self, stylizer, delay):
        self.stylizer, self.delay, self.calls = stylizer, delay, 0
        self.name, self.size, self.model = stylizer.name, stylizer.size, stylizer.model

    def __call__(self, frame):
        self.calls += 1
        time.sleep(self.delay)
        return self.stylizer(frame)

    def close(self):
        pass


class Failing(Slow):
    """Pretends to be another backend and fails from the `fail_at`-th frame on."""

    def __init__(self, stylizer, name="onnxruntime", fail_at=3):
        super().__init__(stylizer, 0.0)
        self.name, self.fail_at, self.closed = name, fail_at, False

    def __call__(self, frame):
        self.calls += 1
        if self.calls >= self.fail_at:
            raise RuntimeError("device lost")
        return self.stylizer(frame)

    def close(self):
        self.closed = True


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()  # Stylizer(threads=1) sets torch's process-wide thread count
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Generator(features=8).eval()


@pytest.fixture
def stylizer(tiny):
    return Stylizer(tiny, "torch-cpu", size=SIZE, threads=1)


def run_display(pipeline, seconds, interval=0.005):
    """A display loop on this thread: take the newest result, 'show' it, record its latency."""
    shown = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and not pipeline.stopped:
        styled = pipeline.take()
        if styled is not None:
            shown.append((styled, pipeline.mark_shown(styled)))
        time.sleep(interval)
    return shown


def test_latest_box_keeps_only_the_newest():
    box = LatestBox()
    assert box.take() is None
    for item in range(5):
        box.put(item)
    assert box.take() == 4 and box.take() is None
    assert (box.puts, box.dropped) == (5, 4)
    started = time.perf_counter()
    threading.Timer(0.05, box.put, args=("late",)).start()
    assert box.take(timeout=2) == "late" and time.perf_counter() - started < 1.5
    box.close()
    assert box.take(timeout=5) is None  # closed: never waits


@pytest.mark.slow
def test_slow_inference_drops_frames_instead_of_queueing(stylizer):
    delay = 0.08
    slow = Slow(stylizer, delay)
    source = MovingSource()
    pipeline = Pipeline(lambda: source, slow, fps_cap=100)
    pipeline.start()
    shown = run_display(pipeline, 1.6)
    assert pipeline.stop()
    stats = pipeline.summary()
    captured, inferred = stats["frames"]["captured"], stats["frames"]["inferred"]
    dropped = stats["dropped"]["capture_to_inference"]
    # Capture ran far ahead of inference; the surplus was dropped and counted, not queued.
    assert captured >= 3 * inferred > 0
    assert inferred <= 1.6 / delay + 2
    assert captured - inferred - 1 <= dropped <= captured - inferred
    assert source.thread == "livestyle-capture" and source.closed
    assert slow.calls == inferred
    # Latency stays near one inference time; a queue would make it grow towards the whole run.
    latencies = [latency for _, latency in shown]
    assert len(latencies) >= 5
    assert max(latencies) < 6 * delay * 1000
    assert percentile(latencies[len(latencies) // 2:], 0.5) < 4 * delay * 1000
    # Every shown frame is newer than the one before, and frames were skipped between them.
    indices = [styled.index for styled, _ in shown]
    assert indices == sorted(indices) and indices[-1] - indices[0] > len(indices)
    styled = shown[-1][0]
    assert styled.image.shape == (SIZE[1], SIZE[0], 3) and styled.image.dtype == np.uint8
    assert styled.source.shape == (96, 128, 4)
    np.testing.assert_array_equal(styled.image, stylizer(styled.source))  # the shown pixels are the stylised ones


@pytest.mark.slow
def test_fps_cap_and_pause(stylizer):
    source = MovingSource()
    pipeline = Pipeline(lambda: source, stylizer, fps_cap=20)
    pipeline.start()
    run_display(pipeline, 1.0)
    pipeline.set_paused(True)
    time.sleep(0.15)
    paused_at = source.count
    time.sleep(0.4)
    assert source.count == paused_at  # paused: no capture at all
    pipeline.set_paused(False)
    run_display(pipeline, 0.3)
    pipeline.stop()
    assert source.count > paused_at
    assert 10 <= pipeline.summary()["frames"]["captured"] <= 20 * 1.5 + 3  # ≤ 20 a second (+ the start)


def test_side_by_side_originals_at_the_inference_size(stylizer):
    pipeline = Pipeline(MovingSource, stylizer, fps_cap=30)
    pipeline.want_original = True
    pipeline.start()
    shown = run_display(pipeline, 0.6)
    pipeline.stop()
    assert shown and shown[-1][0].original.shape == (SIZE[1], SIZE[0], 3)


@pytest.mark.slow
def test_backend_failing_mid_run_falls_back_to_torch_cpu(stylizer, tiny):
    events = []
    failing = Failing(stylizer)
    replacement = Stylizer(tiny, "torch-cpu", size=SIZE, threads=1)
    pipeline = Pipeline(MovingSource, failing, fps_cap=50, fallback=lambda: replacement,
                        on_event=lambda kind, message: events.append((kind, message)))
    pipeline.start()
    run_display(pipeline, 0.8)
    pipeline.stop()
    assert pipeline.error is None and failing.closed
    assert pipeline.stylizer is replacement and pipeline.backend_name == "torch-cpu"
    assert any(kind == "warning" and "onnxruntime failed mid-run (RuntimeError: device lost); falling back to "
               "torch-cpu" in message for kind, message in events)
    assert pipeline.summary()["frames"]["inferred"] > 5  # it went on


def test_torch_cpu_failing_stops_with_a_message(stylizer):
    events = []
    pipeline = Pipeline(MovingSource, Failing(stylizer, name="torch-cpu", fail_at=2), fps_cap=50,
                        on_event=lambda kind, message: events.append((kind, message)))
    pipeline.start()
    run_display(pipeline, 1.0)
    assert pipeline.stop()
    assert pipeline.stopped and "inference failed on torch-cpu (RuntimeError: device lost)" in pipeline.error
    assert events[-1][0] == "error"


def test_capture_failure_is_reported(stylizer):
    class Vanishing(MovingSource):
        def grab(self):
            if self.count >= 3:
                raise LivestyleError("the captured window 'game' was closed")
            return super().grab()

    pipeline = Pipeline(Vanishing, stylizer, fps_cap=50)
    pipeline.start()
    run_display(pipeline, 1.0)
    assert pipeline.stop()
    assert pipeline.error == "the captured window 'game' was closed"

    def broken():
        raise OSError("no X server")

    pipeline = Pipeline(broken, stylizer)
    pipeline.start()
    run_display(pipeline, 0.5)
    assert "could not start: OSError: no X server" in pipeline.error


@pytest.mark.parametrize("fps_cap", [0.0, -5.0, float("nan"), float("inf")])
def test_an_fps_cap_that_is_no_rate_is_refused(stylizer, fps_cap):
    # NaN passed the old `fps_cap <= 0` test, and a NaN period made the capture loop spin without waiting
    with pytest.raises(LivestyleError, match="positive, finite number of frames a second"):
        Pipeline(MovingSource, stylizer, fps_cap=fps_cap)
