"""Real-footage oracles (training.oracle, training.looks) built from a short generated clip."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from _clips import SIZE, SMALL, make_recordings

from training import looks, oracle
from training.data import DataError, image_files, load_training_data, read_image


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    return make_recordings(tmp_path_factory.mktemp("recordings"), levels=("one", "two", "three", "four"))


@pytest.fixture(scope="module")
def built(recordings, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("oracles") / "toy"
    return out, oracle.build("toy", "teal-orange", "other-levels", out, recordings, progress=False, minimum=SMALL)


def names(folder: Path) -> list[str]:
    return [p.name for p in image_files(folder)]


def test_layout_pairs_and_recorded_size(built):
    out, manifest = built
    assert manifest["source"] == "recorded" and manifest["paired"] and manifest["frame_size"] == list(SIZE)
    for folder in ("train/game", "train/movie", "val/game", "val/movie", "val/oracle/game", "val/oracle/movie",
                   "test/game", "test/movie", "test/movie_clean"):
        files = image_files(out / folder)
        assert files, folder
        assert cv2.imread(str(files[0])).shape == (SIZE[1], SIZE[0], 3)  # kept at the recorded size
        assert manifest["counts"][folder] == len(files)
    assert names(out / "test/game") == names(out / "test/movie_clean") == names(out / "test/movie")
    assert names(out / "val/oracle/game") == names(out / "val/oracle/movie")
    # The true movie frame is the deterministic grade of the game frame: no grain, no weave.
    name = names(out / "test/game")[0]
    game = cv2.imread(str(out / "test/game" / name))[..., ::-1]
    truth = cv2.imread(str(out / "test/movie_clean" / name))[..., ::-1]
    grainy = cv2.imread(str(out / "test/movie" / name))[..., ::-1]
    assert np.array_equal(truth, looks.apply("teal-orange", np.ascontiguousarray(game)))
    assert not np.array_equal(grainy, truth)
    assert manifest["do_nothing"]["test"]["ssim"] < 1 and 0 < manifest["do_nothing"]["test"]["structure"] <= 1


def test_other_levels_keep_game_and_movie_levels_apart(built):
    out, manifest = built
    level = lambda name: name.split("-")[0]  # noqa: E731
    game_levels = {level(n) for folder in ("train/game", "test/game", "val/oracle/game") for n in names(out / folder)}
    movie_levels = {level(n) for n in names(out / "train/movie") + names(out / "val/movie")}
    assert game_levels == {"one", "three"} and movie_levels == {"two", "four"}
    roles = {source["level"]: source["role"] for source in manifest["recordings"]}
    assert roles == {"one": "game", "two": "movie", "three": "game", "four": "movie"}


def test_same_levels_hold_out_whole_segments(recordings, tmp_path):
    manifest = oracle.build("toy", "faded-print", "same-levels", tmp_path / "same", recordings, progress=False,
                            minimum=SMALL)
    frame = lambda name: int(name.split("-")[1].split(".")[0])  # noqa: E731
    segments = {folder: {(n.split("-")[0], frame(n) // oracle.SEGMENT) for n in names(tmp_path / "same" / folder)}
                for folder in ("train/game", "train/movie", "test/game", "val/oracle/game")}
    assert {level for level, _ in segments["train/movie"]} == {"one", "two", "three", "four"}
    for a, b in (("train/game", "train/movie"), ("train/game", "test/game"), ("train/movie", "test/game"),
                 ("test/game", "val/oracle/game")):
        assert not segments[a] & segments[b], (a, b)
    assert manifest["movie"] == "same-levels"
    assert names(tmp_path / "same" / "val/movie") == names(tmp_path / "same" / "val/game")
    assert load_training_data(tmp_path / "same", 16).val["movie"].shape[1:] == (16, 16, 3)


def test_rebuild_is_identical_and_the_seed_matters(recordings, built, tmp_path):
    _, manifest = built
    again = oracle.build("toy", "teal-orange", "other-levels", tmp_path / "again", recordings, progress=False,
                         minimum=SMALL)
    assert again["oracle_sha256"] == manifest["oracle_sha256"]
    other = oracle.build("toy", "teal-orange", "other-levels", tmp_path / "seed", recordings, seed=1, progress=False,
                         minimum=SMALL)
    assert other["oracle_sha256"] != manifest["oracle_sha256"]  # grain differs; the grade does not
    assert names(tmp_path / "seed" / "test/game") == names(tmp_path / "again" / "test/game")


def test_repeated_frames_do_not_count(tmp_path):
    still = make_recordings(tmp_path / "still", still=True)
    with pytest.raises(oracle.OracleError, match="too few distinct frames"):
        oracle.build("toy", "teal-orange", "other-levels", tmp_path / "out", still, progress=False, minimum=SMALL)
    assert not (tmp_path / "out").exists()


def test_a_changed_clip_is_refused(recordings, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in recordings.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    with open(copy / "two.mp4", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(oracle.OracleError, match=r"two\.mp4 differs from the recording"):
        oracle.build("toy", "teal-orange", "other-levels", tmp_path / "out", copy, progress=False, minimum=SMALL)


def test_a_missing_clip_or_image_is_missing_not_damaged(recordings, built, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in recordings.iterdir():
        if path.name != "two.mp4":
            (copy / path.name).write_bytes(path.read_bytes())
    with pytest.raises(oracle.OracleError, match=r"two\.mp4 is missing: restore it"):
        oracle.build("toy", "teal-orange", "other-levels", tmp_path / "out", copy, progress=False, minimum=SMALL)
    out, _ = built
    lost = tmp_path / "lost"
    shutil.copytree(out, lost)
    first = sorted((lost / "test" / "movie_clean").iterdir())[0]
    first.unlink()
    with pytest.raises(DataError, match=f"image {first} is missing"):
        read_image(first, None)


def test_the_training_loader_squashes_recorded_frames_and_keeps_display_pairs(built):
    out, _ = built
    dataset = load_training_data(out, 32)
    assert dataset.train["game"].shape[1:] == (32, 32, 3) and dataset.paired
    inputs, truths = dataset.val_display
    assert inputs[0].shape == truths[0].shape == (SIZE[1], SIZE[0], 3)


def test_command_line(recordings, tmp_path, capsys):
    assert oracle.main(["--list", "--recordings", str(recordings)]) == 0
    assert "toy: one, two, three, four" in capsys.readouterr().out
    assert oracle.main(["pong", "--recordings", str(recordings), "--out", str(tmp_path / "x")]) == 2
    assert "no recordings of 'pong'" in capsys.readouterr().err and not (tmp_path / "x").exists()
    # The real minimum (100 distinct training frames per domain) is more than two toy clips have.
    two = make_recordings(tmp_path / "two")
    assert oracle.main(["toy", "--recordings", str(two), "--out", str(tmp_path / "y"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "too few distinct frames" in err and len(err.splitlines()) == 1 and not (tmp_path / "y").exists()
    assert oracle.main(["toy", "--recordings", str(recordings), "--out", str(tmp_path / "z"), "--quiet"]) == 0
    assert "test pairs 20" in capsys.readouterr().out
    (tmp_path / "exists").mkdir()
    assert oracle.main(["toy", "--recordings", str(recordings), "--out", str(tmp_path / "exists")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_out_never_touches_the_recordings(tmp_path, capsys):
    """`--out` equal to, inside or around `--recordings` is refused before any work, --overwrite or not."""
    recordings = make_recordings(tmp_path / "clips")
    before = {p: p.read_bytes() for p in recordings.rglob("*") if p.is_file()}
    for out, relation in ((recordings, "is"), (recordings / "sub", "lies inside"), (tmp_path, "contains")):
        argv = ["toy", "--recordings", str(recordings), "--out", str(out), "--overwrite", "--quiet"]
        assert oracle.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert f"--out {out} {relation} --recordings {recordings}" in err and len(err.splitlines()) == 1
    with pytest.raises(oracle.LivestyleError, match="is --recordings"):
        oracle.build("toy", "teal-orange", "other-levels", recordings, recordings, overwrite=True, progress=False)
    assert {p: p.read_bytes() for p in recordings.rglob("*") if p.is_file()} == before


def test_committed_recordings_are_listed_with_their_hashes():
    listing = json.loads((oracle.RECORDINGS / "recordings.json").read_text())
    clips = oracle.read_recordings(oracle.RECORDINGS)
    assert {clip.game for clip in clips} >= {"supertux", "neverball"}
    for clip in clips:
        assert clip.path.is_file(), clip.path
    assert len(listing["clips"]) == len(clips)
    references = json.loads((oracle.RECORDINGS / "oracles.json").read_text())
    for game, look, movie in oracle.ORACLES:  # every benchmarked oracle has a reference build
        assert len(references[oracle.default_out(game, look, movie).name]) == 64


def test_looks_are_deterministic_and_distinct():
    frame = np.random.default_rng(0).integers(0, 256, (36, 64, 3), dtype=np.uint8)
    graded = {name: looks.apply(name, frame) for name in looks.LOOKS}
    for name, image in graded.items():
        assert image.shape == frame.shape and image.dtype == np.uint8
        assert np.array_equal(image, looks.apply(name, frame))
        first = looks.apply(name, frame, np.random.default_rng(5))
        assert np.array_equal(first, looks.apply(name, frame, np.random.default_rng(5)))
        assert not np.array_equal(first, looks.apply(name, frame, np.random.default_rng(6)))
    assert len({image.tobytes() for image in graded.values()}) == len(looks.LOOKS) >= 5
    with pytest.raises(ValueError, match="uint8"):
        looks.apply("teal-orange", frame.astype(np.float32))


def test_yuv_conversion_matches_the_standard():
    grey = oracle.yuv420_to_rgb(np.full((2, 2), 126, np.uint8), np.full((1, 1), 128, np.uint8),
                                np.full((1, 1), 128, np.uint8))
    assert (grey == 128).all()  # limited-range luma 126 is RGB 128
    red = oracle.yuv420_to_rgb(np.full((2, 2), 81, np.uint8), np.full((1, 1), 90, np.uint8),
                               np.full((1, 1), 240, np.uint8))
    assert tuple(red[0, 0]) == (255, 0, 0)
