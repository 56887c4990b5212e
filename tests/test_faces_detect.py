"""The face detector faces mode uses (BlazeFace, shipped as ONNX, run by OpenCV) and the composited
scenes its checks use."""
import cv2
import numpy as np
import pytest

from livestyle.faces.crop import FACE_CROP
from livestyle.faces.detector import FaceDetector
from livestyle.faces.tracks import _overlap

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (a dev dependency) holds the test faces")


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_finds_the_astronaut_where_she_is(detector):
    image = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    found = detector.detect(image)
    assert len(found) == 1
    assert _overlap(found[0][:4], (176, 72, 100, 100)) > 0.6
    assert 0.5 <= found[0][4] <= 1


def test_takes_bgra_and_any_aspect(detector):
    image = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGRA)
    wide = np.zeros((512, 1400, 4), np.uint8)
    wide[:, 300:812] = image
    (x, y, w, h, _), = detector.detect(wide)
    assert _overlap((x - 300, y, w, h), (176, 72, 100, 100)) > 0.6


def test_nothing_in_a_plain_or_noisy_picture(detector):
    assert detector.detect(np.full((360, 640, 3), 90, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    assert detector.detect(noise) == []


def test_unknown_variant_names_the_choices():
    with pytest.raises(ValueError, match="back"):
        FaceDetector("selfie")


def test_composited_faces_are_found_at_their_boxes(detector):
    from devtools.face_scenes import FaceSource, face_sources, paste_face

    background = np.full((360, 640, 3), 60, np.uint8)
    background[200:] = (40, 90, 40)
    astronaut, cameraman = face_sources()[:2]
    assert isinstance(astronaut, FaceSource)
    boxes = [paste_face(background, astronaut, 80, 60, 110), paste_face(background, cameraman, 420, 150, 120)]
    found = detector.detect(cv2.cvtColor(background, cv2.COLOR_RGB2BGR))
    for box in boxes:
        assert max(_overlap(f[:4], box) for f in found) > 0.4
    assert all(min(f[2], f[3]) >= FACE_CROP.min_face for f in found)
