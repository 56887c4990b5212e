import json

import pytest

from livestyle.errors import LivestyleError
from livestyle.faces import FACE_CROP, CropRule
from livestyle.generator import Generator, face_crops, read_metadata, save_generator
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
    assert json.loads(read_metadata(path)["crop_rule"]) == crop_rule
