import json

import pytest

from livestyle.core.errors import LivestyleError
from livestyle.faces.crop import FACE_CROP, CropRule
from livestyle.model.generator import Generator
from livestyle.model.weights import face_crops, read_metadata, save_generator
from training import prepare


def test_one_crop_rule_for_data_sets_and_the_runtime():
    assert prepare.MIN_FACE == FACE_CROP.min_face
    # A 50 px face in the middle of a 640x360 frame: a 90 px square (50 × 1.8) around its centre.
    assert FACE_CROP.box(300, 150, 50, 50, 640, 360) == (280, 130, 90)
    # Near an edge the square is shifted inside the frame, never cut.
    assert FACE_CROP.box(0, 0, 50, 40, 640, 360) == (0, 0, 90)
    assert FACE_CROP.box(600, 330, 40, 30, 640, 360) == (568, 288, 72)
    # A face larger than the frame allows: the square is the frame's height.
    assert FACE_CROP.box(100, 0, 300, 300, 640, 360) == (70, 0, 360)
    assert FACE_CROP.smallest_face(64) == 40 and FACE_CROP.smallest_face(128) == 64


def test_faces_weights_say_their_crop_rule_and_size(tmp_path):
    path = tmp_path / "game2movie.safetensors"
    save_generator(Generator(features=8).eval(), path, "game2movie",
                   {"kind": "faces", "image_size": 96, "crop_rule": CropRule(margin=0.3, min_face=32).to_metadata()})
    assert face_crops(path, read_metadata(path)) == (CropRule(margin=0.3, min_face=32), 96)
    save_generator(Generator(features=8).eval(), path, "game2movie", {"preset": "faces"})  # an older run
    assert face_crops(path, read_metadata(path)) == (FACE_CROP, None)


@pytest.mark.parametrize("crop_rule, message", [
    ({"margin": -1, "min_face": 40, "shape": "square"}, "crop_rule.margin"),
    ({"margin": 0.4, "min_face": 40, "shape": "round"}, "crop_rule.shape"),
    ({"margin": 0.4, "shape": "square"}, "crop_rule.min_face' is missing"),
])
def test_a_bad_crop_rule_is_one_clear_error(tmp_path, crop_rule, message):
    path = tmp_path / "game2movie.safetensors"
    save_generator(Generator(features=8).eval(), path, "game2movie", {"kind": "faces", "crop_rule": crop_rule})
    with pytest.raises(LivestyleError, match=message) as error:
        face_crops(path, read_metadata(path))
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    header = path.read_bytes()  # the header as stored (reading it through livestyle refuses it, rightly)
    stored = json.loads(header[8:8 + int.from_bytes(header[:8], "little")])["__metadata__"]
    assert json.loads(stored["crop_rule"]) == crop_rule


def test_paste_blends_inside_the_box_and_leaves_the_rest():
    import numpy as np

    from livestyle.faces.crop import feather_mask, paste

    mask = feather_mask(40, 6)
    assert mask.shape == (40, 40) and mask[20, 20] == 1 and 0 < mask[0, 0] < 0.1 and np.allclose(mask, mask.T)
    frame = np.full((90, 120, 3), 10, np.uint8)
    before = frame.copy()
    paste(frame, np.full((40, 40, 3), 250, np.uint8), (70, 30, 40), feather=6)
    outside = np.ones(frame.shape[:2], bool)
    outside[30:70, 70:110] = False
    assert (frame[outside] == before[outside]).all()
    assert (frame[50, 90] == 250).all() and 10 < frame[30, 70, 0] < 40  # full inside, blended at the edge
    with pytest.raises(ValueError, match="crop is 30x30, its box is 40x40"):
        paste(frame, np.zeros((30, 30, 3), np.uint8), (0, 0, 40), feather=6)


def test_tracks_keep_a_still_face_still_and_follow_a_moving_one():
    import numpy as np

    from livestyle.faces.tracks import FaceTracks

    tracks = FaceTracks()
    rng = np.random.default_rng(0)
    shown = []
    for step in range(30):  # a still face, detected with ±2 px of jitter
        jitter = rng.integers(-2, 3, 4)
        shown.append(tracks.update([(100 + jitter[0], 80 + jitter[1], 60 + jitter[2], 60 + jitter[3])], step / 30))
    assert all(boxes == shown[0] for boxes in shown) and len(shown[0]) == 1
    for step in range(30, 45):  # it moves 20 px to the right: the box follows
        boxes = tracks.update([(120, 80, 60, 60)], step / 30)
    assert abs(boxes[0][0] - 120) <= 3
    boxes = tracks.update([(120, 80, 60, 60), (300, 40, 50, 50)], 1.6)  # a second face shows at once
    assert len(boxes) == 2 and (300, 40, 50, 50) in boxes
    assert len(tracks.update([], 2.0)) == 2  # missed for 0.4 s: still shown
    assert tracks.update([], 2.2) == []      # not seen for more than `hold` (0.5 s): gone
