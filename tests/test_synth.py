"""The synthetic game/movie generator: determinism, pairing, layout and look calibration."""
import hashlib
import json

import cv2
import numpy as np
import pytest

from livestyle.core.errors import LivestyleError
from training import synth
from training.metrics import ssim, uint8_to_unit


def params(kind, seed=0):
    return synth.sample_params(kind, np.random.default_rng(seed))


def read_rgb(path):
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]


@pytest.mark.parametrize("kind", synth.KINDS)
@pytest.mark.parametrize("look", synth.LOOKS)
def test_render_shape_and_dtype(kind, look):
    for size in (16, 64):
        image = synth.render(kind, params(kind), look, image_size=size)
        assert image.shape == (size, size, 3) and image.dtype == np.uint8
        assert image.std() > 5  # something was drawn


@pytest.mark.parametrize("kind", synth.KINDS)
def test_params_are_deterministic_and_json(kind):
    assert params(kind, 1) == params(kind, 1)
    assert params(kind, 1) != params(kind, 2)
    json.dumps(params(kind, 3))


@pytest.mark.parametrize("kind", synth.KINDS)
def test_render_determinism_and_grain(kind):
    p = params(kind, 5)
    for look in synth.LOOKS:
        assert np.array_equal(synth.render(kind, p, look, 64), synth.render(kind, p, look, 64))
    assert not np.array_equal(synth.render(kind, p, "game", 64), synth.render(kind, params(kind, 6), "game", 64))
    clean = synth.render(kind, p, "movie", 64, grain=False)
    assert np.array_equal(clean, synth.render(kind, p, "movie", 64, grain=False, seed=9))
    grainy = synth.render(kind, p, "movie", 64, grain=True, seed=1)
    assert np.array_equal(grainy, synth.render(kind, p, "movie", 64, grain=True, seed=1))
    assert not np.array_equal(grainy, synth.render(kind, p, "movie", 64, grain=True, seed=2))
    assert not np.array_equal(grainy, clean)
    # Grain is small noise on top of the same picture.
    assert 1 < np.abs(grainy.astype(int) - clean).mean() < 12


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        synth.render("cats", {}, "game")
    with pytest.raises(ValueError, match="look"):
        synth.render("faces", params("faces"), "cartoon")
    with pytest.raises(ValueError, match="multiple of 8"):
        synth.render("faces", params("faces"), "game", image_size=20)


@pytest.mark.parametrize("kind", synth.KINDS)
def test_do_nothing_ssim_is_calibrated(kind):
    """Game and clean movie renders of the same scene differ, but not beyond recognition."""
    game, movie = [], []
    for seed in range(40):
        p = params(kind, 1000 + seed)
        game.append(synth.render(kind, p, "game", 128))
        movie.append(synth.render(kind, p, "movie", 128, grain=False))
    score = ssim(uint8_to_unit(np.stack(game)), uint8_to_unit(np.stack(movie))).mean().item()
    assert 0.6 <= score <= 0.8, score


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return synth.write_dataset("faces", tmp_path_factory.mktemp("synth") / "faces", 20, image_size=32,
                               seed=3, progress=False)


def test_layout_and_manifest(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["schema"] == 1 and manifest["kind"] == "faces" and manifest["synth_version"] == synth.SYNTH_VERSION
    assert manifest["counts"] == {"train": {"game": 16, "movie": 16}, "val": {"game": 2, "movie": 2},
                                  "test": {"game": 2, "movie": 2}}
    expected = {"train/game": 16, "train/movie": 16, "val/game": 2, "val/movie": 2, "val/oracle/game": 2,
                "val/oracle/movie": 2, "test/game": 2, "test/movie": 2, "test/movie_clean": 2}
    for folder, n in expected.items():
        names = sorted(p.name for p in (dataset / folder).glob("*.png"))
        assert names == [f"{k:05d}.png" for k in range(n)], folder
    listed = {entry["path"] for entry in manifest["images"]}
    on_disk = {str(p.relative_to(dataset)) for p in dataset.rglob("*.png")}
    assert listed == on_disk
    roles = {entry["path"]: entry.get("role") for entry in manifest["images"]}
    assert roles["val/oracle/game/00000.png"] == "oracle_input"
    assert roles["val/oracle/movie/00000.png"] == roles["test/movie_clean/00001.png"] == "oracle_target"
    assert 0 < manifest["do_nothing"]["test"]["ssim"] < 1
    assert read_rgb(dataset / "train/game/00000.png").shape == (32, 32, 3)
    assert not [p for p in dataset.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_pairing_and_independence(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    seeds = {entry["path"]: entry["scene_seed"] for entry in manifest["images"]}
    for k in range(2):
        name = f"{k:05d}.png"
        assert seeds[f"test/game/{name}"] == seeds[f"test/movie/{name}"] == seeds[f"test/movie_clean/{name}"]
        assert seeds[f"val/oracle/game/{name}"] == seeds[f"val/oracle/movie/{name}"]
        p = synth.sample_params("faces", np.random.default_rng(seeds[f"test/game/{name}"]))
        # Files on disk are RGB after the BGR round trip, and re-render from their scene seed.
        assert np.array_equal(read_rgb(dataset / "test/game" / name), synth.render("faces", p, "game", 32))
        assert np.array_equal(read_rgb(dataset / "test/movie_clean" / name),
                              synth.render("faces", p, "movie", 32, grain=False))
    train_seeds = [seeds[f"train/{d}/{k:05d}.png"] for d in synth.LOOKS for k in range(16)]
    assert len(set(train_seeds)) == len(train_seeds)  # unpaired: no shared scenes


def test_dataset_is_deterministic(dataset, tmp_path):
    again = synth.write_dataset("faces", tmp_path / "again", 20, image_size=32, seed=3, progress=False)
    for path in dataset.rglob("*.png"):
        assert path.read_bytes() == (again / path.relative_to(dataset)).read_bytes(), path
    other = synth.write_dataset("faces", tmp_path / "other", 20, image_size=32, seed=4, progress=False)
    assert (other / "train/game/00000.png").read_bytes() != (dataset / "train/game/00000.png").read_bytes()


# sha256 of every image of `write_dataset(kind, ..., 20, image_size=32, seed=0)`, recorded before the
# drawing code was split into steps. A refactor must keep them; a deliberate change to the pictures
# bumps SYNTH_VERSION and records new ones. (The bytes are PNG files, so an OpenCV upgrade that
# encodes differently would change them too: then compare the decoded pixels with the old version.)
IMAGE_HASHES = {
    "faces": "cd1accfa5a2db8e7e260bb9daf1447ba0a8f144565a13f221074b2c679dcac2a",
    "frames": "57e3ae03083773129cb720649fdb29bc7e923a7c232d3049b2f7b23ea1811ced",
}


@pytest.mark.parametrize("kind", synth.KINDS)
def test_images_are_byte_identical_to_the_recorded_set(kind, tmp_path):
    out = synth.write_dataset(kind, tmp_path / kind, 20, image_size=32, seed=0, progress=False)
    digest = hashlib.sha256()
    for path in sorted(out.rglob("*.png")):
        digest.update(path.relative_to(out).as_posix().encode() + b"\0")  # a file swapped with another counts
        digest.update(path.read_bytes())
    assert digest.hexdigest() == IMAGE_HASHES[kind]


def test_scene_does_not_depend_on_count(dataset, tmp_path):
    bigger = synth.write_dataset("faces", tmp_path / "bigger", 30, image_size=32, seed=3, progress=False)
    for path in ("train/game/00005.png", "train/movie/00015.png", "test/game/00001.png"):
        assert (bigger / path).read_bytes() == (dataset / path).read_bytes()


def test_existing_folder_is_refused(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    with pytest.raises(FileExistsError, match="overwrite"):
        synth.write_dataset("frames", out, 10, image_size=16, progress=False)
    synth.write_dataset("frames", out, 10, image_size=16, progress=False, overwrite=True)
    assert (out / "manifest.json").exists()
    with pytest.raises(ValueError, match="at least 10"):
        synth.write_dataset("frames", tmp_path / "few", 9, image_size=16, progress=False)


def test_cached_dataset(tmp_path, capsys):
    first = synth.cached_dataset("frames", 10, image_size=16, seed=1, root=tmp_path)
    assert first == tmp_path / f"synth-frames-16px-n10-s1-v{synth.SYNTH_VERSION}"
    assert "generating" in capsys.readouterr().out
    assert synth.cached_dataset("frames", 10, image_size=16, seed=1, root=tmp_path) == first
    assert "reusing" in capsys.readouterr().out


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    assert synth.main(["frames", "--out", str(out), "--count", "5"]) == 2
    assert "--count: 5 is out of range" in capsys.readouterr().err
    assert synth.main(["dogs", "--out", str(out), "--count", "10"]) == 2
    assert synth.main(["frames", "--out", str(out), "--count", "10", "--image-size", "30"]) == 2
    assert not out.exists()
    assert synth.main(["frames", "--out", str(out), "--count", "10", "--image-size", "16", "--quiet"]) == 0
    assert "SSIM" in capsys.readouterr().out
    assert synth.main(["frames", "--out", str(out), "--count", "10"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"].startswith("python -m training.synth frames")


@pytest.mark.parametrize("error,code", [
    (LivestyleError("--out x: the folder appeared meanwhile"), 2),  # bad input: the user can fix it
    (OSError(28, "No space left on device"), 1),                   # the machine failed mid-run
])
def test_cli_exit_codes(tmp_path, capsys, monkeypatch, error, code):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(synth, "write_dataset", failing)
    assert synth.main(["frames", "--out", str(tmp_path / "out"), "--count", "10", "--quiet"]) == code
    message = capsys.readouterr().err
    assert message.startswith("python -m training.synth: error: ") and message.count("\n") == 1, message


def test_frame_size_keeps_the_middle_of_the_same_scene_in_every_look(tmp_path):
    out = synth.write_dataset("frames", tmp_path / "wide", count=10, seed=0, progress=False, frame_size=(72, 40))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frame_size"] == [72, 40] and manifest["image_size"] == 72
    game = cv2.imread(str(out / "test/game/00000.png"))
    assert game.shape == (40, 72, 3)
    # The same cut of the same scene as the square render, in both looks of the pair.
    params = synth.sample_params("frames", np.random.default_rng(synth._scene_seeds("frames", 0, "test", 0)[0]))
    square = synth.render("frames", params, "movie", 72, grain=False)
    clean = cv2.imread(str(out / "test/movie_clean/00000.png"))[..., ::-1]
    assert np.array_equal(clean, square[16:56])


def test_frame_size_on_the_command_line(tmp_path, capsys):
    assert synth.main(["frames", "--out", str(tmp_path / "a"), "--count", "10", "--frame-size", "64x36",
                       "--quiet"]) == 0
    assert "64x36 frames" in capsys.readouterr().out
    assert synth.main(["frames", "--out", str(tmp_path / "b"), "--count", "10", "--frame-size", "64"]) == 2
    assert "--frame-size '64': write WIDTHxHEIGHT" in capsys.readouterr().err
