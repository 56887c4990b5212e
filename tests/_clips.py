"""Short generated "gameplay" clips for the oracle tests: a window scrolling over a world of
coloured blocks (every frame differs, as in a side-scroller), H.264 like the committed recordings."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

SIZE = (96, 56)


def scrolling_frames(count: int, seed: int, size=SIZE, step: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    world = np.zeros((size[1], size[0] + count * step, 3), np.uint8)
    world[:] = rng.integers(60, 200, 3)
    for _ in range(world.shape[1] // 6):
        x, y = int(rng.integers(0, world.shape[1])), int(rng.integers(0, size[1]))
        w, h = (int(v) for v in rng.integers(4, 20, 2))
        cv2.rectangle(world, (x, y), (x + w, y + h), rng.integers(0, 255, 3).tolist(), -1)
    return [np.ascontiguousarray(world[:, k * step:k * step + size[0]]) for k in range(count)]


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())


def make_recordings(folder: Path, levels=("one", "two"), frames: int = 100, game: str = "toy",
                    still: bool = False) -> Path:
    """A recordings folder like training/recordings: clips + recordings.json with their sha256.
    `still`: every clip shows one frame over and over (nothing distinct to learn from)."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for index, level in enumerate(levels):
        path = folder / f"{level}.mp4"
        images = scrolling_frames(frames, seed=index)
        write_clip(path, [images[0]] * frames if still else images)
        clips.append({"game": game, "level": level, "file": path.name,
                      "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    (folder / "recordings.json").write_text(json.dumps({"clips": clips}, indent=2))
    return folder


SMALL = {"train/game": 10, "train/movie": 10, "val": 5, "test": 5}
