"""Offline video stylisation: frames/s of `python -m livestyle.video`'s pipeline with and without
--stabilize, and how much steadier --stabilize makes the result (warping error) at what cost in
fidelity (PSNR against the unstabilised output).

  python scripts/benchmark_video.py                          # record 10 s of SuperTux (or a synthetic pan),
                                                             # then measure
  python scripts/benchmark_video.py --clip gameplay.mp4      # your own footage (at its size and at 640x360/1280x720)
  python scripts/benchmark_video.py --backend torch-cuda --section benchmark_video-cuda --json $OUT/video.json
  python scripts/benchmark_video.py --from-json video.json --section benchmark_video-cuda   # write a saved run's tables

The test clips are data/benchmark-video/clip-1280x720.mp4 and clip-640x360.mp4. Without --clip they
are recorded once (kept for later runs): SuperTux 0.6 played by xdotool in a 1280x720 window on a
private Xvfb, grabbed with mss 30 times a second with each grab's own time stamp (so the clip has a
variable frame rate, like screen recordings often do), encoded H.264 CRF 18; when SuperTux or Xvfb
is missing, a synthetic camera pan over a rendered training.synth scene instead (the section says which).

Speed rows: each clip through stylize_video() with the bundled demo model (or --model) on --backend,
inference at the command's default size (640 wide at the clip's aspect) and, for 1280x720, also at
full size; with --stabilize 0 and the --stabilize default. Stage times are the mean ms per frame each
thread spent working (decode, stylise, finish = stabilise + resize, encode); frames/s is end to end.
Steadiness rows: python -m livestyle.video.metrics on the 640x360 clip for each --strengths value,
and on the 1280x720 clip for the default. Results go to docs/benchmarks/ (section benchmark_video,
or --section) with a per-frame plot docs/images/video-flicker.png, unless --no-write.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import atomic_path, write_image, write_json

REPO = Path(__file__).resolve().parents[1]

CLIPS = REPO / "data" / "benchmark-video"
PLOT = REPO / "docs" / "images" / "video-flicker.png"
STILL = REPO / "docs" / "images" / "video-side-by-side.jpg"
DEMO_MODEL = REPO / "livestyle" / "assets" / "demo_game2movie.safetensors"


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- clips

def encode(path: Path, frames, times_ms) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, av.open(str(temporary), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"crf": "18"})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        last = -1
        for image, ms in zip(frames, times_ms, strict=False):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = max(int(round(ms)), last + 1), Fraction(1, 1000)
            last = frame.pts
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def record_supertux(seconds: float, size=(1280, 720), fps: float = 30.0):
    """(BGR frames, ms time stamps) of SuperTux being played, grabbed on a private Xvfb."""
    import mss
    import numpy as np
    from benchmark_live import GAME, Children, GameScene

    from devtools.benchmark_doc import scratch_folder
    from devtools.xvfb import have_xvfb, start_xvfb

    if not have_xvfb() or not Path(GAME).is_file():
        raise BenchError("SuperTux or Xvfb missing")
    children = Children()
    frames, times = [], []
    try:
        server, display = start_xvfb(1920, 1080)
        children.add(server)
        with scratch_folder("benchmark_video-") as work:
            game = GameScene(display, children, work / "supertux.log", size=size)
            time.sleep(1.0)
            left, top, width, height = game.rect
            with mss.mss(display=display) as grabber:
                region = {"left": left, "top": top, "width": width, "height": height}
                began = time.perf_counter()
                while (now := time.perf_counter()) - began < seconds:
                    shot = np.asarray(grabber.grab(region))[..., :3].copy()
                    frames.append(shot)
                    times.append((now - began) * 1000)
                    time.sleep(max(0.0, began + len(frames) / fps - time.perf_counter()))
            game.stop()
    finally:
        children.stop_all()
    return frames, times


def synthetic_pan(seconds: float, size=(1280, 720), fps: float = 30.0):
    """A camera pan (with a slow zoom) over one rendered training.synth game scene."""
    import cv2
    import numpy as np

    from training.synth import render, sample_params

    scene = render("frames", sample_params("frames", np.random.default_rng(3)), "game", image_size=1024, grain=False)
    scene = cv2.cvtColor(scene, cv2.COLOR_RGB2BGR)
    count = int(seconds * fps)
    frames, times = [], []
    for index in range(count):
        progress = index / max(count - 1, 1)
        crop_w = int(1024 * (0.62 - 0.1 * progress))
        crop_h = int(crop_w * size[1] / size[0])
        x = int((1024 - crop_w) * progress)
        y = int((1024 - crop_h) * (0.3 + 0.2 * math.sin(progress * math.pi)))
        frames.append(cv2.resize(scene[y:y + crop_h, x:x + crop_w], size, interpolation=cv2.INTER_AREA))
        times.append(index * 1000 / fps)
    return frames, times


def make_clips(seconds: float, log) -> dict:
    import cv2

    big, small = CLIPS / "clip-1280x720.mp4", CLIPS / "clip-640x360.mp4"
    about = CLIPS / "clips.json"
    if big.is_file() and small.is_file() and about.is_file():
        return json.loads(about.read_text())
    try:
        log(f"recording {seconds:g} s of SuperTux at 1280x720 under Xvfb ...")
        frames, times = record_supertux(seconds)
        source = "SuperTux 0.6 (welcome_antarctica, played by xdotool) grabbed with mss under Xvfb"
    except BenchError as error:
        log(f"no SuperTux recording ({error}); using a synthetic pan over a training.synth scene")
        frames, times = synthetic_pan(seconds)
        source = "a synthetic camera pan over a training.synth game scene"
    encode(big, frames, times)
    encode(small, [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in frames], times)
    duration = (times[-1] - times[0]) / 1000 if len(times) > 1 else 0.0
    info = {"source": source, "frames": len(frames), "seconds": round(duration, 2),
            "fps": round((len(frames) - 1) / duration, 2) if duration else None}
    write_json(about, info)
    return info


# ---------------------------------------------------------------------------------------------- runs

def run_speed(clip: Path, out: Path, model: Path, backend: str, size, strength: float, threads: int | None,
              preset: str = "medium") -> dict:
    import numpy as np

    from livestyle.runtime.stabilizer import Stabilizer
    from livestyle.runtime.stylizer import Stylizer
    from livestyle.video import stylize_video

    stylizer = Stylizer(model, backend, size=size, threads=threads, log=lambda _: None)
    try:
        stylizer(np.zeros((size[1], size[0], 3), np.uint8))  # warm-up (CUDA graphs, allocations)
        stats = stylize_video(clip, out, stylizer, stabilizer=Stabilizer(strength, preset) if strength else None,
                              overwrite=True, progress=False)
    finally:
        stylizer.close()
    return stats


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, help="measure this video instead of the recorded clips")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the recorded clip (default 10)")
    parser.add_argument("--model", type=Path, default=DEMO_MODEL, help="generator weights (default: the demo model)")
    parser.add_argument("--backend", default="auto", help="livestyle backend (default auto)")
    parser.add_argument("--threads", type=int, help="CPU threads for the CPU backends (default: all cores)")
    parser.add_argument("--strengths", default="0.3,0.5,0.7,0.9", help="--stabilize values for the steadiness table")
    parser.add_argument("--speed-only", action="store_true", help="skip the steadiness measurements (CPU-only work)")
    parser.add_argument("--json", type=Path, help="also save the results here")
    parser.add_argument("--from-json", type=Path, help="write the section from a saved run instead of measuring")
    parser.add_argument("--section", default="benchmark_video", help="docs/benchmarks/ section name")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    return parser


def declare(args) -> Declaration:
    """Measuring reads the clip (or records the test clips, kept under data/benchmark-video) and the model,
    writes its stylised trials to a scratch folder, the backend cache (--backend auto times the backends) and
    --json (replaced: the results file is the script's own); --from-json reads a saved run instead. Unless
    --no-write: its section of the benchmark pages, the flicker plot (section benchmark_video) and the
    side-by-side still (when steadiness is measured)."""
    from devtools.benchmark_doc import page_output, scratch_output
    from livestyle.runtime.timing import cache_output

    measuring = args.from_json is None
    inputs = {"--clip": args.clip, "--model": args.model if measuring else None, "--from-json": args.from_json}
    outputs = []
    if measuring:
        outputs += [scratch_output(), cache_output()]
        if args.clip is None:
            outputs.append(Output("the recorded test clips", CLIPS, folder=True, owned=True))
        if args.json is not None:
            outputs.append(Output("--json", args.json, owned=True))
    if not args.no_write:
        outputs.append(page_output(args.section))
        if args.section == "benchmark_video":
            outputs.append(Output("the flicker plot", PLOT, owned=True))
        if measuring and not args.speed_only:
            outputs.append(Output("the side-by-side still", STILL, owned=True))
    return Declaration("benchmark_video", inputs, tuple(outputs))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        declare(args).check()
        return run(args)
    except LivestyleError as error:  # a refused output, or one that could not be written
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def run(args) -> int:
    """Measure (or read a saved run), print the section and, unless --no-write, write it; the exit code."""
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        results = measure(args, log)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            write_json(args.json, results)
    text = section(results)
    print(text)
    if not args.no_write:
        from devtools.benchmark_doc import update_section

        if results.get("per_pair") and args.section == "benchmark_video":
            draw_flicker(results["per_pair"], results["per_pair_strength"], PLOT)
        print(f"wrote {update_section(args.section, text)}", file=sys.stderr)
    return 0


def measure(args, log) -> dict:
    import cv2
    import torch

    from devtools.benchmark_doc import machine, scratch_folder
    from livestyle.runtime.selection import candidate_sizes
    from livestyle.video.__main__ import DEFAULT_STABILIZE, DEFAULT_WIDTH
    from livestyle.video.io import VideoReader
    from livestyle.video.metrics import measure as warping

    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    strengths = [float(s) for s in args.strengths.split(",") if s.strip()]
    if args.clip:
        if not args.clip.is_file():
            raise BenchError(f"--clip {args.clip}: no such file")
        clips = {"clip": args.clip}
        about = {"source": str(args.clip)}
    else:
        about = make_clips(args.seconds, log)
        clips = {"640x360": CLIPS / "clip-640x360.mp4", "1280x720": CLIPS / "clip-1280x720.mp4"}
    results = {"machine": machine(), "clip": about, "model": str(args.model.relative_to(REPO)
                                                                if args.model.is_relative_to(REPO) else args.model),
               "backend": args.backend, "default_strength": DEFAULT_STABILIZE, "speed": [], "steadiness": []}
    with scratch_folder("benchmark_video-") as work:
        plain_of = {}
        for name, clip in clips.items():
            with VideoReader(clip) as reader:
                size = reader.info.size
            sizes = [candidate_sizes(size, widths=(DEFAULT_WIDTH,))[0]]
            if size[0] > DEFAULT_WIDTH:
                sizes.append(tuple(8 * (v // 8) for v in size))
            for inference in sizes:
                configurations = [(0.0, "medium"), (DEFAULT_STABILIZE, "medium")]
                if name == next(iter(clips)) and inference == sizes[0]:
                    configurations.append((DEFAULT_STABILIZE, "fast"))  # the live app's preset, for comparison
                for strength, preset in configurations:
                    out = work / f"{name}-{inference[0]}-{strength}-{preset}.mp4"
                    log(f"{name} clip, inference {inference[0]}x{inference[1]}, stabilise {strength:g} {preset} ...")
                    stats = run_speed(clip, out, args.model, args.backend, inference, strength, args.threads, preset)
                    results["speed"].append({"clip": name, "clip_size": list(size), "inference": list(inference),
                                             "stabilize": strength, "preset": preset if strength else "",
                                             "fps": stats["fps"], "frames": stats["frames"],
                                             "stage_ms": stats["stage_ms"], "backend": stats["backend"],
                                             "motion_threads": stats.get("motion_threads", 0)})
                    log(f"  {stats['fps']} fps, {stats['stage_ms']}")
                    if inference == sizes[0]:
                        plain_of.setdefault(name, {})[(strength, preset)] = out
        first = next(iter(clips))
        for name, clip in ({} if args.speed_only else clips).items():
            with VideoReader(clip) as reader:
                size = reader.info.size
            plain = plain_of[name][(0.0, "medium")]
            wanted = [(s, "medium") for s in strengths] if name == first else [(DEFAULT_STABILIZE, "medium")]
            if name == first:
                wanted.append((DEFAULT_STABILIZE, "fast"))
            for strength, preset in wanted:
                steady = plain_of[name].get((strength, preset))
                if steady is None:
                    steady = work / f"{name}-steady-{strength}-{preset}.mp4"
                    inference = candidate_sizes(size, widths=(DEFAULT_WIDTH,))[0]
                    run_speed(clip, steady, args.model, args.backend, inference, strength, args.threads, preset)
                log(f"warping error: {name} clip, stabilise {strength:g} {preset} ...")
                result = warping(clip, steady, reference=plain)
                results["steadiness"].append({
                    "clip": name, "stabilize": strength, "preset": preset, "source": result["warping_error"]["source"],
                    "plain": result["warping_error"]["reference"], "stabilized": result["warping_error"]["output"],
                    "psnr_vs_plain_db": result["psnr_vs_reference_db"], "pairs": result["pairs"],
                    "size": result["size"]})
                if name == first and strength == DEFAULT_STABILIZE and preset == "medium":
                    results["per_pair"] = result["per_pair"]
                    results["per_pair_strength"] = strength
                    if not args.no_write:
                        draw_still(clip, plain, steady, STILL)
    return results


# ---------------------------------------------------------------------------------------------- output

def section(results: dict) -> str:
    clip = results["clip"]
    where = "a GPU" if "cuda" in results["backend"] or "tensorrt" in results["backend"] else "the CPU"
    lines = [f"## Offline video stylisation on {where} (`scripts/benchmark_video.py`)", "",
             f"Measured by `python scripts/benchmark_video.py` on {results['machine']}.", "",
             f"Clip: {clip['source']}"
             + (f", {clip['frames']} frames over {clip['seconds']} s ({clip['fps']} fps average, variable)"
                if "frames" in clip else "") + f"; model {results['model']}; --backend {results['backend']}.", "",
             "| clip | inference size | --stabilize | DIS preset | backend | frames/s | decode ms | stylise ms | "
             "motion ms | finish ms | encode ms |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in results["speed"]:
        stage = row["stage_ms"]
        lines.append(f"| {row['clip']} | {row['inference'][0]}x{row['inference'][1]} | {row['stabilize']:g} | "
                     f"{row.get('preset') or '—'} | {row['backend']} | {row['fps']:.1f} | {stage['decode']:.1f} | "
                     f"{stage['stylize']:.1f} | {stage.get('motion', 0):.1f} | {stage['finish']:.1f} | "
                     f"{stage['encode']:.1f} |")
    threads = {row.get("motion_threads") for row in results["speed"] if row.get("motion_threads")}
    lines += ["", "Stage columns are each stage's busy time per frame; the stages overlap, so frames/s follows the "
              "slowest one, not their sum. Motion is the stabiliser's optical flow (DIS; medium is "
              "`python -m livestyle.video`'s preset, fast the live app's), computed on a pool of "
              f"{'/'.join(map(str, sorted(threads))) or 'several'} thread{'' if threads == {1} else 's'} as frames are "
              "decoded, its column the "
              "sum over them; finish is the warp-and-blend plus the resize to the output size.", ""]
    if results["steadiness"]:
        lines += ["Steadiness (`python -m livestyle.video.metrics`: Farneback flow on the source, forward–backward "
                  "and motion-boundary mask, mean ‖O_t − warp(O_t−1)‖² over trusted pixels, RGB in [0, 1]; "
                  "fidelity = PSNR of the stabilised output against the unstabilised one):", "",
                  "| clip | --stabilize | DIS preset | source (floor) | unstabilised | stabilised | "
                  "stabilised / unstabilised | PSNR vs unstabilised |", "|---|---|---|---|---|---|---|---|"]
        for row in results["steadiness"]:
            ratio = row["stabilized"] / row["plain"] if row["plain"] else float("nan")
            psnr = "identical" if row["psnr_vs_plain_db"] is None else f"{row['psnr_vs_plain_db']:.2f} dB"
            lines.append(f"| {row['clip']} | {row['stabilize']:g} | {row.get('preset', 'medium')} | "
                         f"{row['source']:.5f} | {row['plain']:.5f} | {row['stabilized']:.5f} | {ratio:.2f} | {psnr} |")
    if results.get("note"):
        lines += ["", results["note"]]
    return "\n".join(lines)


def draw_flicker(per_pair: dict, strength: float, path: Path) -> None:
    """Each frame pair's warping error: source, unstabilised, stabilised — a small PNG drawn with OpenCV."""
    import cv2
    import numpy as np

    series = [("source (floor)", per_pair["source"], (120, 120, 120)),
              ("unstabilised", per_pair["reference"], (40, 40, 220)),
              (f"--stabilize {strength:g}", per_pair["output"], (200, 120, 0))]
    width, height, left, right, top, bottom = 760, 340, 80, 20, 50, 40
    image = np.full((height, width, 3), 255, np.uint8)
    count = max(len(values) for _, values, _ in series)
    high = max(max(values) for _, values, _ in series) * 1.05 or 1.0

    def xy(index, value):
        return (int(left + (width - left - right) * index / max(count - 1, 1)),
                int(height - bottom - (height - top - bottom) * value / high))

    font, black, grey = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0), (215, 215, 215)
    for fraction in (0.25, 0.5, 0.75, 1.0):
        y = xy(0, high * fraction)[1]
        cv2.line(image, (left, y), (width - right, y), grey, 1)
        cv2.putText(image, f"{high * fraction:.4f}", (5, y + 4), font, 0.4, black, 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (width - right, height - bottom), black, 1)
    for _name, values, colour in series:
        cv2.polylines(image, [np.array([xy(i, v) for i, v in enumerate(values)], np.int32)], False, colour, 2,
                      cv2.LINE_AA)
    x = left
    for name, _, colour in series:
        cv2.line(image, (x, 20), (x + 24, 20), colour, 3)
        cv2.putText(image, name, (x + 30, 25), font, 0.45, black, 1, cv2.LINE_AA)
        x += 40 + 9 * len(name)
    cv2.putText(image, "frame pair", (width // 2 - 40, height - 12), font, 0.45, black, 1, cv2.LINE_AA)
    cv2.putText(image, "warping error per frame pair (lower = steadier)", (left, top - 6), font, 0.42, black, 1,
                cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, image)


def draw_still(clip: Path, plain: Path, steady: Path, path: Path, index: int = 150) -> None:
    """One frame: source | stylised | stylised and stabilised, labelled."""
    import cv2
    import numpy as np

    from livestyle.video.io import VideoReader
    from livestyle.video.job import label, side_by_side

    picked = []
    for video in (clip, plain, steady):
        with VideoReader(video) as reader:
            for number, _, image in reader.frames():
                chosen = image
                if number >= index:
                    break
        picked.append(cv2.resize(chosen, (480, 270), interpolation=cv2.INTER_AREA))
    row = np.hstack([side_by_side(picked[0], picked[1]), picked[2]])
    label(row, "--stabilize 0.5", 960)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, row, (cv2.IMWRITE_JPEG_QUALITY, 88))


if __name__ == "__main__":
    sys.exit(main())
