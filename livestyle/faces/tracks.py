"""Face boxes kept steady between detections: the tracks faces mode crops from."""
from __future__ import annotations


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class FaceTracks:
    """Detected face boxes, kept steady between detections: a detection joins the track it overlaps
    most (IoU ≥ `match`); a track moves only when a detection differs from it by more than
    `deadband` of its side (at least 3 px: detectors jitter by a few pixels on a still face), then
    part of the way (`follow`); a new face shows at once; a face not detected for `hold` seconds is
    dropped."""

    def __init__(self, match: float = 0.3, deadband: float = 0.1, follow: float = 0.6, hold: float = 0.5):
        self.match, self.deadband, self.follow, self.hold = match, deadband, follow, hold
        self.tracks: list[dict] = []  # {"box": [x, y, w, h], "seen": seconds}

    def update(self, detections: list[tuple[float, float, float, float]], now: float) -> list[tuple[int, ...]]:
        """Feed one detector result (boxes in frame pixels) taken at `now` (seconds); the boxes to use."""
        free = list(range(len(self.tracks)))
        for detection in sorted(detections, key=lambda d: -d[2] * d[3]):
            best = max(free, key=lambda i: _overlap(self.tracks[i]["box"], detection), default=None)
            if best is None or _overlap(self.tracks[best]["box"], detection) < self.match:
                self.tracks.append({"box": [float(v) for v in detection], "seen": now})
                continue
            free.remove(best)
            track = self.tracks[best]
            track["seen"] = now
            box = track["box"]
            centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
            target = (detection[0] + detection[2] / 2, detection[1] + detection[3] / 2)
            if max(abs(target[0] - centre[0]), abs(target[1] - centre[1]), abs(detection[2] - box[2]),
                   abs(detection[3] - box[3])) > max(3.0, self.deadband * max(box[2], box[3])):
                track["box"] = [b + self.follow * (d - b) for b, d in zip(box, detection, strict=False)]
        self.tracks = [t for t in self.tracks if now - t["seen"] <= self.hold]
        return self.boxes()

    def boxes(self) -> list[tuple[int, ...]]:
        return [tuple(int(round(v)) for v in track["box"]) for track in self.tracks]
