"""Faces mode live, under a real X server (Xvfb): a window shows real faces (scikit-image's astronaut)
composited at known boxes into a game-like picture — one still, one moving, one that appears on cue;
the live pipeline captures it with mss and stylises the faces with the bundled faces demo model.
Checked at capture size: the shown picture differs from the capture inside the face crops and
equals it outside (within 2 levels); the still face's box centre moves at most 2 px between frames;
a face that appears is shown stylised within 300 ms of the first capture it is in. Then the whole
app (python -m livestyle --faces) once, its window and dumps."""
import json
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from devtools.xvfb import SKIP_REASON, have_xvfb, start_xvfb, wait_for_window, x_env
from livestyle.faces.crop import FACE_CROP
from livestyle.faces.tracks import _overlap
from livestyle.live import capture
from livestyle.live.pipeline import Pipeline
from livestyle.model.weights import faces_setup
from livestyle.runtime.facemode import FacesStylizer
from livestyle.runtime.selection import DEMO_FACES_MODEL
from livestyle.runtime.stylizer import Stylizer

pytest.importorskip("skimage.data", reason="scikit-image (a dev dependency) holds the test faces")
from devtools.face_scenes import APPEARING_FACE, MOVING_ROW, MOVING_SIDE, STILL_FACE, WINDOW_SIZE, window_picture

TITLE = "livestyle-faces-content"


@pytest.fixture(scope="module")
def faces_display():
    if not have_xvfb():
        pytest.skip(SKIP_REASON)
    server, display = start_xvfb(1024, 600)
    content = subprocess.Popen([sys.executable, "-m", "devtools.face_scenes", "window", TITLE],
                               env=x_env(display), stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if wait_for_window(display, TITLE) is None:
            content.kill()
            pytest.fail(f"the faces window did not appear: {content.stderr.read()[-500:]}")
        time.sleep(0.5)
        yield display, content
    finally:
        for child in (content, server):
            child.kill()
            child.wait()


def crop_region(box) -> tuple[slice, slice]:
    left, top, side = FACE_CROP.box(*box, *WINDOW_SIZE)
    return slice(top, top + side), slice(left, left + side)


def changed_outside(shown: np.ndarray, captured: np.ndarray, boxes, slack: int = 0) -> int:
    """The largest difference outside the crops cut around `boxes` (grown by `slack` px each way)."""
    difference = np.abs(shown.astype(int) - captured.astype(int)).max(axis=2)
    outside = np.ones(difference.shape, bool)
    for box in boxes:
        rows, columns = crop_region(box)
        outside[max(0, rows.start - slack):rows.stop + slack,
                max(0, columns.start - slack):columns.stop + slack] = False
    return int(difference[outside].max())


def centre_difference(shown: np.ndarray, captured: np.ndarray, box) -> float:
    x, y, w, h = box
    inner = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
    return float(np.abs(shown[inner].astype(int) - captured[inner].astype(int)).mean())


class Recording:
    """The faces stylizer, remembering which boxes each picture it made was cut around."""

    def __init__(self, inner: FacesStylizer):
        self.inner, self.boxes = inner, {}

    def __call__(self, frame):
        picture = self.inner(frame)
        self.boxes[id(picture)] = list(self.inner.last_boxes)
        return picture

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.slow
def test_live_faces_under_xvfb(faces_display, monkeypatch):
    display, content = faces_display
    for key, value in x_env(display).items():
        monkeypatch.setenv(key, value)
    rule, side = faces_setup(DEMO_FACES_MODEL)
    faces = Stylizer(DEMO_FACES_MODEL, "torch-cpu", size=(side, side), batch=4, threads=1)
    stylizer = Recording(FacesStylizer(faces, rule))
    target = capture.resolve_target(region=f"0,0,{WINDOW_SIZE[0]},{WINDOW_SIZE[1]}")
    pipeline = Pipeline(lambda: capture.ScreenSource(target), stylizer, fps_cap=30)
    results = []  # (captured perf_counter, shown perf_counter, picture, capture BGR, boxes)
    pipeline.start()
    appear_sent = None
    try:
        started = time.perf_counter()
        while time.perf_counter() - started < 7.0:
            styled = pipeline.take()
            if styled is None:
                time.sleep(0.002)
                continue
            now = time.perf_counter()
            captured = np.ascontiguousarray(styled.source[..., :3])
            results.append((styled.captured, now, styled.image.copy(), captured.copy(),
                            stylizer.boxes.pop(id(styled.image), [])))
            if appear_sent is None and now - started > 3.5:
                content.stdin.write("appear\n")
                content.stdin.flush()
                appear_sent = now
    finally:
        pipeline.stop()
        stylizer.inner.close()
    assert pipeline.error is None
    assert len(results) >= 30, f"only {len(results)} pictures in 7 s"
    settled = [r for r in results if r[0] - started > 1.5]

    # Outside the crops cut around the boxes used: the capture, within 2 levels; the still face: changed.
    for _, _, shown, captured, boxes in settled:
        assert shown.shape == captured.shape == (WINDOW_SIZE[1], WINDOW_SIZE[0], 3)
        assert changed_outside(shown, captured, boxes) <= 2
        assert centre_difference(shown, captured, STILL_FACE) > 3

    # The still face's box stays put.
    centres = []
    for *_, boxes in settled:
        still = [b for b in boxes if _overlap(b, STILL_FACE) > 0.4]
        assert len(still) == 1, boxes
        x, y, w, h = still[0]
        centres.append((x + w / 2, y + h / 2))
    steps = np.abs(np.diff(np.array(centres), axis=0)).max() if len(centres) > 1 else 0
    assert steps <= 2, centres

    # The face that appears: stylised within 300 ms of the first capture that shows it.
    background, _ = window_picture(0, appeared=False)
    rows, columns = slice(APPEARING_FACE[1], APPEARING_FACE[1] + APPEARING_FACE[3]), \
        slice(APPEARING_FACE[0], APPEARING_FACE[0] + APPEARING_FACE[2])
    sky = cv2.cvtColor(background, cv2.COLOR_RGB2BGR)[rows, columns].astype(int)
    first_in = next(r for r in results if np.abs(r[3][rows, columns].astype(int) - sky).mean() > 20)
    first_styled = next(r for r in results if r[0] >= first_in[0]
                        and any(_overlap(b, APPEARING_FACE) > 0.4 for b in r[4])
                        and centre_difference(r[2], r[3], APPEARING_FACE) > 3)
    delay = first_styled[1] - first_in[0]
    print(f"faces live: {len(results)} pictures in 7 s, still-face centre moved at most {steps:.1f} px, a new face "
          f"shown stylised {delay * 1000:.0f} ms after the first capture with it")
    assert delay <= 0.3, delay


@pytest.mark.slow
def test_app_faces_mode_under_xvfb(faces_display, tmp_path):
    """python -m livestyle --faces on the faces window: the window appears, the HUD counts the faces,
    and the last shown picture is the capture with its faces stylised."""
    display, _ = faces_display
    stats, dump = tmp_path / "stats.json", tmp_path / "dump"
    env = x_env(display, XDG_CONFIG_HOME=str(tmp_path / "config"), LIVESTYLE_CACHE_DIR=str(tmp_path / "cache"))
    command = [sys.executable, "-c", "import sys; from livestyle.live.app import main; sys.exit(main(sys.argv[1:]))",
               "--faces", "--backend", "torch-cpu", "--region", f"0,0,{WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
               "--threads", "1", "--exit-after", "5", "--stats", str(stats), "--dump-last", str(dump)]
    process = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stdout + process.stderr
    data = json.loads(stats.read_text())
    assert data["model"] == "faces: faces demo model" and data["size"] == list(WINDOW_SIZE)
    assert data["faces"]["faces_in_view"] >= 2 and data["faces"]["detector_ms"] > 0
    shown, captured = cv2.imread(str(dump / "shown.png")), cv2.imread(str(dump / "captured.png"))
    moving_row = [(x, MOVING_ROW, MOVING_SIDE, MOVING_SIDE) for x in range(0, WINDOW_SIZE[0], 20)]
    assert changed_outside(shown, captured, [STILL_FACE, APPEARING_FACE, *moving_row], slack=16) <= 2
    assert centre_difference(shown, captured, STILL_FACE) > 3
