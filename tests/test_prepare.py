"""Data sets from footage (training.prepare): exact frames, leak-free splits, faces, bad input.

The test videos are tiny and made here; every frame shows its own index as a pattern of black
and white blocks that survives compression and squashing to 32x32, so each written image can be
checked against the frame the manifest says it came from.
"""
import json
import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import TINY, run_module

from training import prepare
from training.data import load_training_data

SIZE = 32
COLUMNS, ROWS = 4, 2  # block 0 is always white (never a blank frame); blocks 1-7 are index bits
H264 = "libx264" in av.codecs_available


def pattern(index: int, width: int = 96, height: int = 72) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    bits = [1] + [(index >> b) & 1 for b in range(COLUMNS * ROWS - 1)]
    for block, bit in enumerate(bits):
        row, column = divmod(block, COLUMNS)
        bw, bh = width // COLUMNS, height // ROWS
        image[row * bh:(row + 1) * bh, column * bw:(column + 1) * bw] = 255 * bit
    return image


def read_index(image: np.ndarray) -> int:
    """The index drawn by pattern(), read back from a squashed image."""
    bw, bh = image.shape[1] // COLUMNS, image.shape[0] // ROWS
    bits = []
    for block in range(COLUMNS * ROWS):
        row, column = divmod(block, COLUMNS)
        centre = image[row * bh + bh // 4:(row + 1) * bh - bh // 4, column * bw + bw // 4:(column + 1) * bw - bw // 4]
        bits.append(int(centre.mean() > 127))
    assert bits[0] == 1, "marker block lost"
    return sum(bit << b for b, bit in enumerate(bits[1:]))


def write_cv2(path: Path, frames, fourcc: str, fps: float = 10.0) -> Path:
    frames = list(frames)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"cv2 cannot write {fourcc}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def write_av(path: Path, frames, codec: str, container_format: str | None = None, fps: int = 10,
             times_ms=None) -> Path:
    """A video written with PyAV; ``times_ms``: each frame's own time stamp (variable frame rate)."""
    with av.open(str(path), "w", format=container_format) as container:
        stream = None
        for index, frame in enumerate(frames):
            if stream is None:
                stream = container.add_stream(codec, rate=None if times_ms is not None else fps)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                if times_ms is not None:
                    stream.codec_context.time_base = Fraction(1, 1000)
            picture = av.VideoFrame.from_ndarray(frame, format="bgr24")
            if times_ms is not None:
                picture.pts, picture.time_base = int(times_ms[index]), Fraction(1, 1000)
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def run(*args) -> int:
    return prepare.main([str(a) for a in args] + ["--quiet"])


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]  # temp and replaced folders are hidden


def load(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


# ----------------------------------------------------------------------------- frames

@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("footage")
    (root / "game").mkdir()
    write_cv2(root / "game" / "a.avi", (pattern(i) for i in range(120)), "MJPG")
    if H264:  # H.264 with B-frames in MPEG-TS: the case where container metadata and seeking lie
        write_av(root / "game" / "b.ts", (pattern(i) for i in range(80)), "libx264", "mpegts")
    write_cv2(root / "c.mp4", (pattern(i) for i in range(120)), "mp4v")
    return root


@pytest.fixture(scope="module")
def prepared(footage, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared") / "data"
    assert run("frames", "--game", footage / "game", "--movie", footage / "c.mp4", "--out", out,
               "--count", 40, "--image-size", SIZE, "--seed", 3) == 0
    return out


def test_frames_are_the_exact_frames_named_in_the_manifest(prepared):
    manifest = load(prepared)
    seen = set()
    for entry in manifest["images"]:
        image = cv2.imread(str(prepared / entry["path"]))
        assert image.shape == (SIZE, SIZE, 3)
        assert read_index(image) == entry["frame_index"] % 128, entry
        key = (entry["source"], entry["frame_index"])
        assert key not in seen, f"frame taken twice: {key}"
        seen.add(key)
    sources = {Path(e["source"]).name for e in manifest["images"]}
    assert sources == ({"a.avi", "b.ts", "c.mp4"} if H264 else {"a.avi", "c.mp4"})


def test_counts_per_split_on_disk_and_in_manifest(prepared):
    manifest = load(prepared)
    expected = {"train": 32, "val": 4, "test": 4}
    for split, n in expected.items():
        for domain in ("game", "movie"):
            files = sorted(p.name for p in (prepared / split / domain).iterdir())
            assert files == [f"{k:05d}.png" for k in range(n)]
            assert manifest["counts"][split][domain] == n
    assert len(manifest["images"]) == 80
    assert sorted(p.name for p in prepared.iterdir()) == ["manifest.json", "preview.png", "test", "train", "val"]
    preview = cv2.imread(str(prepared / "preview.png"))
    assert preview.shape == (2 * SIZE, 8 * SIZE, 3)  # a row of training images per domain
    assert np.array_equal(preview[SIZE:, :SIZE], cv2.imread(str(prepared / "train" / "movie" / "00000.png")))


def test_splits_are_contiguous_segments_never_shared(prepared):
    manifest = load(prepared)
    for _domain, sources in manifest["sources"].items():
        for source in sources:
            segments = source["segments"]
            assert segments[0][0] == 0 and segments[-1][1] == source["frames"]
            assert all(a[1] == b[0] and a[2] != b[2] for a, b in zip(segments, segments[1:], strict=False))
            images = [e for e in manifest["images"] if e["source"] == source["path"]]
            for entry in images:
                inside = [s for s in segments if s[0] <= entry["frame_index"] < s[1]]
                assert inside[0][2] == entry["split"], (entry, inside)
            # Frames of one source are at least the gap apart, also across splits.
            frames = sorted(e["frame_index"] for e in images)
            assert all(b - a >= source["min_gap_frames"] for a, b in zip(frames, frames[1:], strict=False))
        splits = {s[2] for source in sources for s in source["segments"]}
        assert splits == {"train", "val", "test"}


def test_manifest_describes_every_image_and_source(prepared, footage):
    manifest = load(prepared)
    assert {"schema": 1, "source": "footage", "kind": "frames", "generator": "training.prepare",
            "paired": False, "image_size": SIZE, "seed": 3}.items() <= manifest.items()
    assert manifest["command"].startswith("python -m training.prepare frames --game ")
    frames = {Path(s["path"]).name: s["frames"] for d in manifest["sources"].values() for s in d}
    assert frames == ({"a.avi": 120, "b.ts": 80, "c.mp4": 120} if H264 else {"a.avi": 120, "c.mp4": 120})
    for entry in manifest["images"]:
        assert set(entry) >= {"path", "split", "domain", "source", "frame_index", "timestamp", "crop_box"}
        assert entry["crop_box"] == [0, 0, 96, 72]
        assert entry["path"].startswith(f"{entry['split']}/{entry['domain']}/")
        assert Path(entry["source"]).exists()
        first = next(s for s in manifest["sources"][entry["domain"]] if s["path"] == entry["source"])
        # Time stamps come from the stream (10 fps), relative to its first frame.
        assert entry["timestamp"] - first["first_timestamp"] == pytest.approx(entry["frame_index"] / 10, abs=1e-3)
    assert manifest["skipped"] == {"game": {}, "movie": {}}


def test_same_seed_gives_the_same_data_set(prepared, footage, tmp_path):
    out = tmp_path / "again"
    assert run("frames", "--game", footage / "game", "--movie", footage / "c.mp4", "--out", out,
               "--count", 40, "--image-size", SIZE, "--seed", 3) == 0
    def strip(m):
        return [(e["path"], e["source"], e["frame_index"]) for e in m["images"]]
    assert strip(load(out)) == strip(load(prepared))


@pytest.mark.slow
def test_training_reads_the_result(prepared, tmp_path):
    data = load_training_data(prepared, SIZE)
    assert data.train["game"].shape == (32, SIZE, SIZE, 3) and data.val["movie"].shape == (4, SIZE, SIZE, 3)
    assert not data.paired
    result = run_module("training.fit", "frames", "--data", prepared, *TINY, "--epochs", "1", "--limit", "8",
                        "--run-dir", tmp_path / "run", "--no-eval")
    assert result.returncode == 0, result.stderr[-2000:]


def test_near_duplicates_and_blank_frames_are_skipped(tmp_path, capsys):
    # A static picture (frames 63-72) and a fade to black (73-77) in otherwise moving footage.
    frames = [pattern(63) if 63 <= i <= 72 else np.zeros((72, 96, 3), np.uint8) if 73 <= i <= 77
              else pattern(i % 128) for i in range(200)]
    write_cv2(tmp_path / "static.avi", frames, "MJPG")
    write_cv2(tmp_path / "plain.avi", (pattern(i) for i in range(120)), "MJPG")
    out = tmp_path / "data"
    assert prepare.main(["frames", "--game", str(tmp_path / "static.avi"), "--movie", str(tmp_path / "plain.avi"),
                         "--out", str(out), "--count", "60", "--image-size", str(SIZE), "--min-gap", "0",
                         "--quiet"]) == 0
    manifest = load(out)
    game = [e for e in manifest["images"] if e["domain"] == "game"]
    assert len(game) == 60
    assert sum(63 <= e["frame_index"] <= 72 for e in game) <= 1
    assert not any(73 <= e["frame_index"] <= 77 for e in game)
    skipped = manifest["skipped"]["game"]
    assert skipped["near_duplicate"] > 0 and skipped["blank"] > 0, skipped
    printed = capsys.readouterr().out
    assert f"skipped (game): {skipped['blank']} blank, {skipped['near_duplicate']} near duplicate" in printed


def test_crop_fit_and_a_folder_of_images(tmp_path):
    (tmp_path / "shots").mkdir()
    for i in range(40):
        cv2.imwrite(str(tmp_path / "shots" / f"shot{i:03d}.png"), pattern(i, 128, 64))
    write_cv2(tmp_path / "film.avi", (pattern(i, 128, 64) for i in range(60)), "MJPG")
    out = tmp_path / "data"
    assert run("frames", "--game", tmp_path / "shots", "--movie", tmp_path / "film.avi", "--out", out,
               "--count", 10, "--image-size", SIZE, "--fit", "crop") == 0
    manifest = load(out)
    assert all(e["crop_box"] == [32, 0, 64, 64] for e in manifest["images"])
    game = [e for e in manifest["images"] if e["domain"] == "game"]
    assert all(e["source"].endswith(".png") and e["timestamp"] is None for e in game)
    assert len({e["source"] for e in game}) == 10
    assert cv2.imread(str(out / game[0]["path"])).shape == (SIZE, SIZE, 3)


def test_keep_fit_keeps_the_aspect_and_never_upscales(tmp_path, capsys):
    write_cv2(tmp_path / "game.avi", (pattern(i, 128, 64) for i in range(60)), "MJPG")
    write_cv2(tmp_path / "film.avi", (pattern(i, 48, 32) for i in range(60)), "MJPG")
    out = tmp_path / "data"
    assert run("frames", "--game", tmp_path / "game.avi", "--movie", tmp_path / "film.avi", "--out", out,
               "--count", 10, "--fit", "keep", "--width", 96) == 0
    manifest = load(out)
    assert manifest["fit"] == "keep" and manifest["keep_width"] == 96
    shapes = {e["domain"]: cv2.imread(str(out / e["path"])).shape for e in manifest["images"]}
    assert shapes == {"game": (48, 96, 3), "movie": (32, 48, 3)}  # scaled down to 96 wide; 48 wide kept
    assert "--crop" in capsys.readouterr().out
    assert (out / "preview.png").is_file()


@pytest.mark.skipif(not H264, reason="PyAV has no libx264 encoder here")
def test_h264_in_mpeg_ts_alone_is_exact(tmp_path):
    write_av(tmp_path / "game.ts", (pattern(i) for i in range(70)), "libx264", "mpegts")
    write_av(tmp_path / "movie.ts", (pattern(127 - i) for i in range(70)), "libx264", "mpegts")
    out = tmp_path / "data"
    assert run("frames", "--game", tmp_path / "game.ts", "--movie", tmp_path / "movie.ts", "--out", out,
               "--count", 20, "--image-size", SIZE) == 0
    for entry in load(out)["images"]:
        expected = entry["frame_index"] if entry["domain"] == "game" else 127 - entry["frame_index"]
        assert read_index(cv2.imread(str(out / entry["path"]))) == expected


def test_variable_frame_rate_with_a_start_offset_has_exact_time_stamps(tmp_path):
    # Matroska with irregular frame durations from 2.5 s: the container's frame rate is a guess.
    times = np.cumsum(np.r_[2500, np.random.default_rng(0).integers(20, 200, 59)])
    codec = "libx264" if H264 else "mpeg4"
    write_av(tmp_path / "vfr.mkv", (pattern(i) for i in range(60)), codec, times_ms=times)
    write_cv2(tmp_path / "movie.avi", (pattern(i) for i in range(60)), "MJPG")
    out = tmp_path / "data"
    assert run("frames", "--game", tmp_path / "vfr.mkv", "--movie", tmp_path / "movie.avi", "--out", out,
               "--count", 20, "--image-size", SIZE) == 0
    manifest = load(out)
    for entry in (e for e in manifest["images"] if e["domain"] == "game"):
        assert read_index(cv2.imread(str(out / entry["path"]))) == entry["frame_index"]
        assert entry["timestamp"] == pytest.approx(times[entry["frame_index"]] / 1000, abs=1e-6)
    assert manifest["sources"]["game"][0]["first_timestamp"] == 2.5


def test_interrupt_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    clip = write_cv2(tmp_path / "clip.avi", (pattern(i) for i in range(60)), "MJPG")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare, "_extract_frames", interrupted)
    out = tmp_path / "data"
    assert run("frames", "--game", clip, "--movie", clip, "--out", out, "--count", 10, "--image-size", SIZE) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists() and not leftovers(tmp_path)


# ----------------------------------------------------------------------------- faces

def face_video(path: Path, frames: int, seed: int) -> Path:
    """The astronaut's head moving and growing over a changing background."""
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the test face")
    head = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[30:250, 140:320]
    rng = np.random.default_rng(seed)
    images = []
    for i in range(frames):
        frame = np.full((180, 240, 3), (40 + 2 * i, 90 + seed * 20, 160 - i), np.uint8)
        side = 120 + (i % 10) * 5
        scaled = cv2.resize(head, (side, side * head.shape[0] // head.shape[1]))[:180]
        x, y = int(rng.integers(0, 240 - side)), int(rng.integers(0, 180 - scaled.shape[0] + 1))
        frame[y:y + scaled.shape[0], x:x + side] = scaled
        images.append(frame)
    return write_cv2(path, images, "MJPG")


@pytest.mark.slow
def test_faces_are_found_and_cropped(tmp_path):
    face_video(tmp_path / "game.avi", 60, 0)
    face_video(tmp_path / "movie.avi", 60, 1)
    out = tmp_path / "faces"
    assert run("faces", "--game", tmp_path / "game.avi", "--movie", tmp_path / "movie.avi", "--out", out,
               "--count", 10, "--image-size", SIZE) == 0
    manifest = load(out)
    assert manifest["kind"] == "faces" and manifest["counts"]["train"] == {"game": 8, "movie": 8}
    assert len({(e["source"], e["frame_index"]) for e in manifest["images"]}) == 20
    for entry in manifest["images"]:
        x, y, w, h = entry["crop_box"]
        assert w == h >= prepare.MIN_FACE and x >= 0 and y >= 0 and x + w <= 240 and y + h <= 180
        crop = cv2.imread(str(out / entry["path"]))
        assert crop.shape == (SIZE, SIZE, 3) and crop.std() > 10
    load_training_data(out, SIZE)


def test_faces_in_footage_without_faces_is_a_clear_error(tmp_path, capsys):
    write_cv2(tmp_path / "blocks.avi", (pattern(i) for i in range(40)), "MJPG")
    face_video(tmp_path / "movie.avi", 30, 1)
    out = tmp_path / "faces"
    assert run("faces", "--game", tmp_path / "blocks.avi", "--movie", tmp_path / "movie.avi", "--out", out,
               "--count", 10, "--image-size", SIZE) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --game: found only 0 of 8 train, 0 of 1 val, 0 of 1 test usable face crops")
    assert "blocks.avi" in error
    assert not out.exists() and not leftovers(tmp_path)


# ----------------------------------------------------------------------------- bad input

@pytest.fixture()
def good(tmp_path) -> Path:
    return write_cv2(tmp_path / "good.avi", (pattern(i) for i in range(60)), "MJPG")


def expect_error(capsys, tmp_path, args, *fragments, out=None):
    out = out or tmp_path / "out"
    code = prepare.main([str(a) for a in args] + ["--out", str(out), "--count", "10", "--image-size", "32", "--quiet"])
    error = capsys.readouterr().err
    assert code == 2, error  # bad input: the user can fix it
    assert error.startswith("error: ") and error.count("\n") == 1 and "Traceback" not in error, error
    for fragment in fragments:
        assert fragment in error, error
    assert not out.exists() or out.is_dir() and any(out.iterdir())  # never half-written
    assert not leftovers(out.parent)
    return error


def test_unreadable_video(tmp_path, good, capsys):
    (tmp_path / "broken.mp4").write_bytes(os.urandom(5000))
    expect_error(capsys, tmp_path, ["frames", "--game", tmp_path / "broken.mp4", "--movie", good],
                 "broken.mp4", "re-encode")


def test_zero_frame_video(tmp_path, good, capsys):
    writer = cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 72))
    writer.release()
    expect_error(capsys, tmp_path, ["frames", "--game", good, "--movie", tmp_path / "empty.avi"], "empty.avi")


def test_folder_without_media_and_a_stray_file(tmp_path, good, capsys):
    (tmp_path / "nothing").mkdir()
    expect_error(capsys, tmp_path, ["frames", "--game", good, "--movie", tmp_path / "nothing"],
                 "nothing", "no videos or images")
    (tmp_path / "mixed").mkdir()
    write_cv2(tmp_path / "mixed" / "clip.avi", (pattern(i) for i in range(30)), "MJPG")
    (tmp_path / "mixed" / "notes.txt").write_text("hello")
    (tmp_path / "mixed" / ".DS_Store").write_text("hidden files are ignored")
    expect_error(capsys, tmp_path, ["frames", "--game", tmp_path / "mixed", "--movie", good],
                 "notes.txt", "neither a video nor an image")
    expect_error(capsys, tmp_path, ["frames", "--game", tmp_path / "missing.mp4", "--movie", good],
                 "missing.mp4", "no such file")


def test_too_little_footage_then_allow_fewer(tmp_path, good, capsys):
    short = write_cv2(tmp_path / "short.avi", (pattern(i) for i in range(12)), "MJPG")
    args = ["frames", "--game", short, "--movie", good, "--out", tmp_path / "out", "--count", "40",
            "--image-size", "32", "--quiet"]
    assert prepare.main([str(a) for a in args]) == 2
    error = capsys.readouterr().err
    assert "--game: found only" in error and "short.avi" in error and "--allow-fewer" in error
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)
    assert prepare.main([str(a) for a in args] + ["--allow-fewer"]) == 0
    counts = load(tmp_path / "out")["counts"]
    assert 3 <= sum(counts[s]["game"] for s in counts) < 40 and counts["train"]["movie"] == 32


def test_frame_size_change_mid_stream(tmp_path, good, capsys):
    codec = "libx264" if H264 else "mpeg2video"
    first = write_av(tmp_path / "a.ts", (pattern(i) for i in range(20)), codec, "mpegts")
    second = write_av(tmp_path / "b.ts", (pattern(i, 64, 48) for i in range(20)), codec, "mpegts")
    (tmp_path / "joined.ts").write_bytes(first.read_bytes() + second.read_bytes())
    expect_error(capsys, tmp_path, ["frames", "--game", tmp_path / "joined.ts", "--movie", good],
                 "joined.ts", "frame size changes from 96x72 to 64x48")


def test_read_only_output_folder(tmp_path, good, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        out = locked / "data"
        if os.access(locked, os.W_OK):  # root ignores permissions; /sys refuses new folders
            if not Path("/sys").is_dir():
                pytest.skip("running as root without /sys: no read-only place to try")
            out = Path("/sys/livestyle-prepare-test/data")
        code = prepare.main(["frames", "--game", str(good), "--movie", str(good), "--out", str(out),
                             "--count", "10", "--quiet"])
        error = capsys.readouterr().err
        assert code == 2 and error.startswith("error: --out") and "cannot write" in error and str(out) in error, error
        assert not out.exists()
    finally:
        locked.chmod(0o755)


def test_existing_output_is_refused_unless_overwrite(tmp_path, good, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["frames", "--game", str(good), "--movie", str(good), "--out", str(out), "--count", "10",
            "--image-size", "32", "--quiet"]
    assert prepare.main(args) == 2
    assert "already exists" in capsys.readouterr().err and (out / "keep.txt").exists()
    assert prepare.main(args + ["--overwrite"]) == 0
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("error,code", [
    (prepare.PrepareError("--game x.mp4: no such file or folder"), 2),  # bad input: the user can fix it
    (OSError(28, "No space left on device"), 1),                      # the machine failed mid-run
])
def test_exit_codes(tmp_path, good, capsys, monkeypatch, error, code):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(prepare, "prepare", failing)
    assert run("frames", "--game", good, "--movie", good, "--out", tmp_path / "out") == code
    message = capsys.readouterr().err
    assert message.startswith("error: ") and message.count("\n") == 1, message


def test_help_has_an_example(capsys):
    assert prepare.main(["--help"]) == 0
    assert "python -m training.prepare frames --game" in capsys.readouterr().out
