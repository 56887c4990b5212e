"""python -m livestyle.video IN OUT — stylise a recorded video (same frames, same time stamps, audio kept).

  python -m livestyle.video gameplay.mp4 gameplay-film.mp4                    # newest engine/run, or the demo model
  python -m livestyle.video gameplay.mp4 film.mp4 --stabilize                # less flicker (strength 0.5)
  python -m livestyle.video clip.mkv compare.mp4 --side-by-side --scale 0.5
  python -m livestyle.video clip.mp4 out.mkv --model runs/frames-20261127-101500 --size 1280x720 --codec hevc
  python -m livestyle.video clip.mp4 faces.mkv --faces                       # film faces, the rest as recorded

The network runs at the inference size (--size, default: 640 pixels wide at the video's aspect ratio,
or --scale of the video's size) and the result is resized to the output size (the video's own
unless --output-size). --faces [PATH] stylises the faces in each frame with a faces model (as the
live app's faces mode does, detecting every frame) and pastes them back, over the frames model's picture
with --model, else over the video as it is. --stabilize S blends in the previous stylised frame, warped by optical flow
measured on the input frames, wherever that flow is reliable: S = 0 is off, 1 the steadiest. Measure
the effect with python -m livestyle.video.metrics IN OUT --reference UNSTABILISED.

OUT is written to a private temporary file and replaces OUT only once complete. A video that ends
before the frames its container declares (a recording cut off, a damaged file) is refused, so a short
OUT is never taken for the whole video; --allow-truncated writes the frames that decode, with a warning.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import torch

from livestyle.core.cli import ArgumentParser, bounded_int, finite_float, run_command
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import check_apart, describe, write_stats
from livestyle.core.logs import say
from livestyle.core.sizes import parse_output_size, parse_size
from livestyle.runtime.builder import build_stylizer, choose_models
from livestyle.runtime.machine import probe
from livestyle.runtime.options import RuntimeOptions
from livestyle.runtime.selection import (
    ModelChoice,
    candidate_sizes,
    check_size_flag,
    open_stylizer,
    scaled_size,
)
from livestyle.runtime.stabilizer import Stabilizer
from livestyle.runtime.stylizer import Stylizer
from livestyle.runtime.timing import cache_output
from livestyle.video.io import VideoReader, resolve_codec
from livestyle.video.job import check_container, check_paths, stylize_video

DEFAULT_WIDTH = 640  # --size auto: the live app's default width; the networks are trained on small crops
DEFAULT_STABILIZE = 0.5  # --stabilize without a value


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m livestyle.video", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, metavar="IN", help="the video to stylise (anything PyAV/FFmpeg reads)")
    parser.add_argument("output", type=Path, metavar="OUT", help="the stylised video to write (.mp4, .mkv, .mov)")
    RuntimeOptions.add_arguments(parser, "video", "model")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--size", default="auto", help=f"inference size WIDTHxHEIGHT (multiples of 8; any size for a "
                      f"pyramid model), or auto (default): {DEFAULT_WIDTH} wide at the video's aspect ratio")
    size.add_argument("--scale", type=finite_float(high=4, above=0),
                      help="inference size as a fraction of the video's size, e.g. 0.5")
    parser.add_argument("--output-size", metavar="WxH", help="size of the written frames (default: the video's)")
    parser.add_argument("--stabilize", type=finite_float(0, 1), nargs="?", const=DEFAULT_STABILIZE, default=0.0,
                        metavar="S",
                        help=f"reduce flicker, strength 0..1 (default 0 = off; the flag alone means "
                        f"{DEFAULT_STABILIZE})")
    parser.add_argument("--side-by-side", action="store_true", help="write input | output next to each other")
    parser.add_argument("--codec", default="h264", help="video encoder: h264 (default), hevc, vp9, av1, mpeg4, mjpeg, "
                        "ffv1, or an FFmpeg encoder name")
    parser.add_argument("--crf", type=bounded_int(0, 51), default=18,
                        help="quality for h264/hevc, lower is better (default 18: "
                        "visually lossless)")
    parser.add_argument("--no-audio", action="store_true", help="leave the audio out")
    RuntimeOptions.add_arguments(parser, "video", "machine")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--stats", type=Path, metavar="PATH", help="write the run's numbers as JSON")
    parser.add_argument("--allow-truncated", action="store_true", help="a video that ends before the frames its "
                        "container declares (cut off, damaged) is refused; with this flag the frames that decode are "
                        "written, with a warning")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def inference_size(args, video_size: tuple[int, int]) -> tuple[int, int]:
    if args.scale is not None:
        return scaled_size(video_size, args.scale, "video")
    if args.size == "auto":
        return candidate_sizes(video_size, widths=(DEFAULT_WIDTH,))[0]
    return parse_size(args.size, "--size", multiple=1)  # the model's own rule: checked when it is opened


def declare(args) -> Declaration:
    """What livestyle.video reads and writes: OUT (refused if present without --overwrite), and its own
    --stats and backend timing cache (replaced by design)."""
    outputs = [Output("OUT", args.output), cache_output()]
    if args.stats is not None:
        outputs.append(Output("--stats", args.stats, owned=True))
    return Declaration("livestyle.video", {"IN": args.input, "--model": args.model, "--faces": args.faces},
                       tuple(outputs), overwrite=args.overwrite)


def check_arguments(args) -> None:
    """What argparse's types cannot check, and where the outputs go, before any video is opened."""
    check_size_flag(args.size)
    if args.output_size is not None:
        parse_output_size(args.output_size, "--output-size")
    if args.stats is not None and args.stats.resolve() == args.output.resolve():
        raise LivestyleError(f"--stats {args.stats} is OUT as well; give the numbers another file name")
    declare(args).check()


def check_outputs(args, models: dict) -> None:
    check_apart({"OUT": args.output, "--stats": args.stats}, {"IN": args.input, **models})


def fits_video(video_size: tuple[int, int], log):
    """Whether a candidate model suits the video: an engine built for another aspect ratio would squash
    every frame, so it is passed over for the weights (with a line saying so)."""
    def fits(candidate: ModelChoice) -> bool:
        if candidate.engine is None or candidate.built_size is None:
            return True
        width, height = candidate.built_size
        if abs(width / height / (video_size[0] / video_size[1]) - 1) <= 0.05:
            return True
        log(f"livestyle.video: passing over {candidate.engine.name}: built for {width}x{height}, another aspect "
            f"ratio than the video's {video_size[0]}x{video_size[1]}")
        return False

    return fits


def run(args, log) -> dict:
    check_paths(args.input, args.output, args.overwrite)
    check_arguments(args)
    codec = resolve_codec(args.codec)
    with VideoReader(args.input) as reader:
        info = reader.info
        if next(reader.frames(), None) is None:  # before any model is loaded
            raise LivestyleError(f"{args.input}: has no video frames to stylise; check that it plays")
    size_out = parse_output_size(args.output_size, "--output-size") if args.output_size else info.size
    check_container(info, args.output, (2 * size_out[0], size_out[1]) if args.side_by_side else size_out, codec,
                    args.crf, not args.no_audio)
    log(f"livestyle.video: {args.input} ({info.describe()})")
    options = RuntimeOptions.from_args(args).for_command("video")
    threads = options.cpu_threads("video")
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    models = choose_models(options, probe(), log, "livestyle.video", fits=fits_video(info.size, log))
    choice, faces_choice = models.frames, models.faces
    for label, chosen in (("the faces model", faces_choice), ("the model", choice)):
        if chosen is not None:
            check_outputs(args, {label: [chosen.weights, chosen.engine]})

    def open_frames(choice: ModelChoice) -> Stylizer:
        wanted = inference_size(args, info.size)
        stylizer = open_stylizer(choice, options, None if choice.engine is not None else wanted, log)
        asked = args.scale is not None or args.size != "auto"
        if choice.engine is not None and asked and tuple(stylizer.size) != wanted:
            built = stylizer.size
            flag = f"--scale {args.scale:g}" if args.scale is not None else f"--size {args.size}"
            log(f"livestyle.video: {flag} cannot be honoured: {choice.engine.name} was built for "
                f"{built[0]}x{built[1]} and runs only at that size; build one at {wanted[0]}x{wanted[1]} (python "
                f"scripts/build_engine.py --size {wanted[0]}x{wanted[1]}) or pass --model with the weights")
        return stylizer

    stylizer = build_stylizer(options, models, open_frames, command="video", frame_size=info.size,
                              frame_rate=float(info.rate or 30), log=log)
    built, video = stylizer.size[0] / stylizer.size[1], info.size[0] / info.size[1]
    if choice is not None and choice.engine is not None and abs(built / video - 1) > 0.05:
        log(f"livestyle.video: warning: {choice.engine.name} runs at {stylizer.size[0]}x{stylizer.size[1]}, another "
            f"aspect ratio than the video's {info.width}x{info.height}, so frames are squashed; build an engine at the "
            f"video's shape (python scripts/build_engine.py --size {inference_size(args, info.size)[0]}x"
            f"{inference_size(args, info.size)[1]}) or pass --model with the weights")
    stabilizer = Stabilizer(args.stabilize) if args.stabilize > 0 else None
    log(f"livestyle.video: {stylizer.describe()}, stabilise {args.stabilize:g}"
        f"{', side by side' if args.side_by_side else ''} → {args.output}")
    try:
        stats = stylize_video(args.input, args.output, stylizer, stabilizer=stabilizer, output_size=size_out,
                              compare=args.side_by_side, codec=codec, crf=args.crf, overwrite=args.overwrite,
                              progress=not args.quiet, audio=not args.no_audio,
                              allow_truncated=args.allow_truncated,
                              grain=stylizer.film_grain() if args.grain else None)
    finally:
        stylizer.close()
    stats["model"] = str(choice.engine or choice.weights) if choice else None
    if faces_choice is not None:
        stats["faces_model"] = str(faces_choice.engine or faces_choice.weights)
        faces = stylizer.status() or {}
        stats["faces"] = {"frames_with_faces_stylised": faces.get("frames_with_faces"), "detector_ms":
                          faces.get("detector_ms"), "faces_ms": faces.get("faces_ms")}
    for note in stats["notes"]:
        log(f"livestyle.video: {note}")
    stage = stats["stage_ms"]
    pace = {k: v / (max(1, stats["motion_threads"]) if k == "motion" else 1) for k, v in stage.items()}
    slowest = max(pace, key=lambda stage_name: pace[stage_name])
    log(f"livestyle.video: wrote {args.output}: {stats['frames']} frames in {stats['seconds']:.1f} s "
        f"({stats['fps']:.1f} fps); per frame " + ", ".join(f"{k} {v:.1f} ms" for k, v in stage.items() if v)
        + f" — {slowest} sets the pace")
    if args.stats is not None:
        write_stats(args.stats, stats)
    return stats


def stylize(args) -> int:
    run(args, say)
    return 0


def main(argv=None) -> int:
    """Ctrl+C and SIGTERM alike leave OUT as it was (run_command: one line, exit 130)."""
    return run_command(build_parser(), argv, stylize, lambda error, args: (
        f"{describe(error, doing='livestyle.video failed on')}; {args.output} was not written"),
        stopped=lambda args: f"{args.output} was not written")


if __name__ == "__main__":
    sys.exit(main())
