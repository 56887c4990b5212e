"""python -m livestyle [options]   — the live app (see python -m livestyle --help)
python -m livestyle doctor      — what this machine offers, and which backend auto picks

  python -m livestyle doctor --model runs/<run>/game2movie.safetensors --size 640x360
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livestyle.core.cli import ArgumentParser, bounded_int, run_command
from livestyle.core.declared import Declaration
from livestyle.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from livestyle.core.files import describe
from livestyle.core.sizes import SIZE_MULTIPLE, parse_size
from livestyle.live.app import main as app_main
from livestyle.model.loaded import load_model
from livestyle.model.weights import WEIGHTS_FILE
from livestyle.runtime.doctor import report
from livestyle.runtime.options import MAX_THREADS
from livestyle.runtime.timing import cache_output


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m livestyle", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", parser_class=ArgumentParser)
    doctor = commands.add_parser("doctor", help="what this machine offers: GPU, CUDA, TensorRT, ONNX Runtime, "
                                 "screen capture, and which backend auto picks")
    doctor.add_argument("--model", type=Path, help=f"{WEIGHTS_FILE} (or run folder): time the backends for it")
    doctor.add_argument("--size", default="640x360", help="inference size for --model (default 640x360)")
    doctor.add_argument("--engines", type=Path, default=Path("engines"), help="engine folder (default engines/)")
    doctor.add_argument("--threads", type=bounded_int(1, MAX_THREADS),
                        help="CPU threads for the CPU backends (default: all cores)")
    return parser


def declare(args) -> Declaration:
    """doctor reads --model and the engine folder; with --model it times the backends into the backend cache."""
    return Declaration("livestyle doctor", {"--model": args.model, "--engines": args.engines}, (cache_output(),))


def run_doctor(args) -> int:
    size = parse_size(args.size, "--size", multiple=1)
    # A model that cannot even be loaded is one line, before the machine is probed and backends timed.
    model = load_model(args.model) if args.model is not None else None
    size = parse_size(size, "--size", multiple=model.size_multiple if model else SIZE_MULTIPLE)
    failures: list[str] = []
    for line in report(model=model, size=size, engines_dir=args.engines, threads=args.threads, failures=failures):
        print(line, flush=True)
    if failures:
        print(f"error: --model {args.model}: {failures[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] != "doctor":
        try:
            return app_main(argv)
        except OSError as error:  # a last net: the app's own checks should have said it better
            print(f"error: {describe(error, None, 'cannot use')}", file=sys.stderr)
            return EXIT_FAILED
    return run_command(build_parser(), argv, run_doctor, lambda error, args: describe(error, None, "cannot use"))


if __name__ == "__main__":
    sys.exit(main())
