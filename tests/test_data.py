import json

import cv2
import numpy as np
import pytest
import torch
from conftest import write_random_dataset

from training.data import (
    DataError,
    ReportAugmentation,
    load_training_data,
    random_crops,
    read_for_crops,
    to_model_range,
    to_uint8,
)


def test_loads_both_domains_as_rgb_uint8(tmp_path):
    root = write_random_dataset(tmp_path / "d", size=32)
    # A known colour checks the BGR (disk) -> RGB (memory) conversion.
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 2] = 255  # BGR red
    cv2.imwrite(str(root / "train" / "game" / "00000.png"), red)
    data = load_training_data(root, image_size=32)
    assert data.train["game"].dtype == torch.uint8 and data.train["game"].shape == (16, 32, 32, 3)
    assert data.train["game"][0, 0, 0].tolist() == [255, 0, 0]
    assert not data.paired


def test_limit_and_resize(tmp_path):
    root = write_random_dataset(tmp_path / "d", size=40)
    data = load_training_data(root, image_size=24, limit=5)
    assert data.train["movie"].shape == (5, 24, 24, 3)
    assert len(data.val["game"]) == 2


def test_value_range_round_trip():
    images = torch.randint(0, 256, (2, 8, 8, 3), dtype=torch.uint8)
    model = to_model_range(images)
    assert model.shape == (2, 3, 8, 8) and model.min() >= -1 and model.max() <= 1
    assert torch.equal(to_uint8(model), images)


@pytest.mark.parametrize("breakage,message", [
    ("missing", "does not exist"),
    ("empty_domain", "no images in"),
    ("unreadable", "cannot read image"),
    ("no_val", "missing folder"),
    ("bad_manifest", "not valid JSON"),
])
def test_bad_data_sets_name_the_problem(tmp_path, breakage, message):
    root = write_random_dataset(tmp_path / "d", size=16)
    if breakage == "missing":
        root = tmp_path / "nowhere"
    elif breakage == "empty_domain":
        for file in (root / "train" / "movie").iterdir():
            file.unlink()
    elif breakage == "unreadable":
        (root / "train" / "game" / "00003.png").write_bytes(b"garbage")
    elif breakage == "no_val":
        for file in (root / "val" / "game").iterdir():
            file.unlink()
        (root / "val" / "game").rmdir()
    elif breakage == "bad_manifest":
        (root / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match=message):
        load_training_data(root, image_size=16)


def test_augmentation_applies_exactly_one_operation_per_image():
    torch.manual_seed(0)
    augment = ReportAugmentation()
    images = torch.rand(400, 3, 16, 16) * 2 - 1
    out = augment(images)
    assert out.shape == images.shape and out.min() >= -1 - 1e-5 and out.max() <= 1 + 1e-5
    unchanged = (out == images).flatten(1).all(1)
    hflip = (out == images.flip(-1)).flatten(1).all(1)
    vflip = (out == images.flip(-2)).flatten(1).all(1)
    # Each of the five choices has p = 0.2: about 80 images each, the rest blurred or jittered.
    for count in (unchanged.sum(), hflip.sum(), vflip.sum()):
        assert 45 <= count <= 120
    assert 100 <= (~(unchanged | hflip | vflip)).sum() <= 220


def test_paired_manifest_gives_a_validation_oracle(synthetic_faces):
    data = load_training_data(synthetic_faces, image_size=32)
    manifest = json.loads((synthetic_faces / "manifest.json").read_text())
    assert data.paired
    assert len(data.val_oracle.inputs) == len(data.val_oracle.targets) == manifest["counts"]["val"]["game"]


def test_random_crops_come_from_inside_each_image():
    images = torch.arange(2 * 10 * 12 * 3, dtype=torch.int32).reshape(2, 10, 12, 3).to(torch.uint8)
    crops = random_crops(images, 4, torch.Generator().manual_seed(0))
    assert crops.shape == (2, 4, 4, 3)
    for image, crop in zip(images, crops, strict=False):
        found = [(top, left) for top in range(7) for left in range(9)
                 if torch.equal(image[top:top + 4, left:left + 4], crop)]
        assert found


def test_crops_come_from_images_of_any_size_but_never_upscale(tmp_path):
    folder = tmp_path / "train" / "game"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "a.png"), np.zeros((40, 64, 3), np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.zeros((48, 72, 3), np.uint8))
    images = read_for_crops(folder, 32)
    assert [tuple(image.shape) for image in images] == [(40, 64, 3), (48, 72, 3)]
    assert random_crops(images, 32, torch.Generator().manual_seed(1)).shape == (2, 32, 32, 3)
    with pytest.raises(DataError, match="a.png is 64x40, smaller than --image-size 48.*--image-size 40 or less"):
        read_for_crops(folder, 48)
