"""Build an inference engine for the game→movie generator: an ONNX file (ONNX Runtime) or a
TensorRT engine, each checked against torch and described by a JSON sidecar beside it.

  python scripts/build_engine.py                                  # newest runs/*/game2movie.safetensors, 640x360
  python scripts/build_engine.py --weights runs/faces-20261126-101500/game2movie.safetensors --size 1280x720
  python scripts/build_engine.py --format onnx                    # ONNX Runtime, fp32 (any machine)
  python scripts/build_engine.py --format tensorrt --precision fp16   # on a CUDA machine with TensorRT
  python scripts/build_engine.py --weights runs/faces-…/game2movie.safetensors   # a faces model: its crops

A faces model (python -m training.fit faces) is built for what faces mode runs: square crops at its
training size (e.g. 128x128), 4 crops per pass (--batch); --size and --batch override that.

--format auto (default) builds a TensorRT engine where TensorRT and a CUDA GPU exist, else ONNX.
--format cube bakes a colour-look model into a .cube 3D LUT and a ReShade LUT strip (docs/engines.md).
--precision defaults to fp16 for TensorRT and fp32 for ONNX (fp16 on ONNX Runtime's CPU provider
is slower, not faster, so ONNX fp16 is refused). The size is width x height, each a multiple of 8
(640x360: 360 = 45 x 8); the engine only runs at that size, and the runtime resizes frames to it.

The file is kept only if its output matches torch fp32 on random inputs within --tolerance (max
abs difference on the [-1, 1] output; default 1e-3 for fp32, 5e-2 for fp16); otherwise the script
exits non-zero and writes nothing (nor does a full disk or Ctrl+C: files are written privately and
moved into place at the end; the output folder is checked before any work). TensorRT engines are
tied to the GPU model and TensorRT version they were built with; their file names say both, and the
runtime refuses one that does not fit.
Run from the repository root: runs/ and engines/ are relative to the current folder.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livestyle.core.cli import ArgumentParser, bounded_int, configure_logging, finite_float, interrupted, interruptible
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import describe
from livestyle.core.memory import check_memory
from livestyle.core.sizes import format_size, parse_size
from livestyle.faces.crop import FACES_BATCH
from livestyle.model.loaded import load_model, newest_weights
from livestyle.model.memory import inference_bytes
from livestyle.runtime.engines.build import FORMATS, build_onnx, build_tensorrt, resolve_format, resolve_precision
from livestyle.runtime.engines.cube import build_cube, colour_look
from livestyle.runtime.machine import probe


def build_lookup_tables(args) -> int:
    """--format cube: the model's colour look as a .cube, a ReShade strip and their sidecar in --out."""
    given = [flag for flag, value in (("--size", args.size), ("--batch", args.batch), ("--precision", args.precision),
                                      ("--parity-inputs", args.parity_inputs)) if value is not None]
    if given:
        raise LivestyleError(f"{given[0]} does not apply to --format cube: a lookup table has no size, batch or "
                             f"precision and is checked by construction; leave it out")
    weights = args.weights or newest_weights()
    declare(args, weights).check()
    print(f"weights: {weights}", flush=True)
    model = load_model(weights)
    colour_look(model)  # a model without a look is refused before the folder is made
    args.out.mkdir(parents=True, exist_ok=True)
    build_cube(model, args.out, log=lambda message: print(message, flush=True))
    return 0


def declare(args, weights: Path | None = None) -> Declaration:
    """build_engine reads the weights and writes into --out, the engine folder: engines and their sidecars
    named by the weights' hash (a rebuild replaces its own), TensorRT's timing cache, .cube files. The folder
    is livestyle's own, trusted like code (docs/guarantees.md)."""
    return Declaration("build_engine", {"--weights": weights or args.weights},
                       (Output("--out", args.out, folder=True, owned=True),))


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python scripts/build_engine.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, help="game2movie.safetensors or a run folder "
                        "(default: the newest runs/*/game2movie.safetensors)")
    parser.add_argument("--size", help="inference size WIDTHxHEIGHT (default 640x360; a faces model: its training "
                        "size): multiples of 8 for the plain generator, any size for a pyramid model")
    parser.add_argument("--batch", type=bounded_int(1, 64), help=f"images per forward pass, 1 to 64 (default 1; a "
                        f"faces model: {FACES_BATCH}, the face crops faces mode stylises at once)")
    parser.add_argument("--format", default="auto", choices=(*FORMATS, "cube"),
                        help="auto (default): tensorrt where TensorRT and a CUDA GPU exist, else onnx; cube: a "
                        "colour-look model as a .cube 3D LUT and a ReShade LUT strip, for OBS, ReShade, Resolve, "
                        "ffmpeg (never chosen by auto)")
    parser.add_argument("--precision", choices=("fp16", "fp32"),
                        help="default: fp16 for tensorrt, fp32 for onnx")
    parser.add_argument("--out", type=Path, default=Path("engines"), help="output folder (default engines/)")
    parser.add_argument("--tolerance", type=finite_float(above=0),
                        help="max abs difference from torch fp32 (default by precision)")
    parser.add_argument("--parity-inputs", type=bounded_int(1, 1000),
                        help="random inputs for the parity check, 1 to 1000 (default 3)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    try:
        with interruptible():
            return build(args)
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM: the temporary files are removed, --out keeps what it had
        return interrupted(f"no engine was written to {args.out}")


def build(args) -> int:
    try:
        if args.format == "cube":
            return build_lookup_tables(args)
        if args.size is not None:
            parse_size(args.size, "--size", multiple=1)  # its form now; the model's own rule once it is read
        # Before the weights are even read: a read-only or mistyped --out costs a second, not the export.
        weights = args.weights or newest_weights()
        declare(args, weights).check()
        print(f"weights: {weights}", flush=True)
        model = load_model(weights)
        size, batch = args.size or "640x360", args.batch or 1
        if model.kind == "faces" and model.info is not None:
            side = model.info.faces_side
            size, batch = args.size or f"{side}x{side}", args.batch or FACES_BATCH
            print(f"a faces model: face crops at {size}, {batch} per pass", flush=True)
        size = parse_size(size, "--size", multiple=model.size_multiple)
        # The export traces the network, the parity check runs it in torch and in ONNX Runtime: about three
        # forward passes' worth at once (a GPU build's TensorRT memory is the GPU's own).
        check_memory(f"--size {format_size(size)}" + (f" --batch {batch}" if batch > 1 else ""),
                     3 * inference_bytes(model.module, size, batch), "choose a smaller --size or --batch")
        machine = probe()
        fmt, why = resolve_format(args.format, machine)
        precision = resolve_precision(args.precision, fmt)
        print(f"format: {fmt} ({why}), precision {precision}, size {format_size(size)}, batch {batch}", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)

        def log(message: str) -> None:
            print(message, flush=True)

        options = dict(tolerance=args.tolerance, parity_inputs=args.parity_inputs or 3, log=log, batch=batch)
        if fmt == "onnx":
            build_onnx(model, size, args.out, machine, **options)
        else:
            build_tensorrt(model, size, args.out, machine, precision=precision, **options)
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"error: {describe(error, error.filename or args.out, 'cannot use')}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
