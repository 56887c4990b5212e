"""python -m livestyle [command]

  python -m livestyle doctor                              # what this machine offers
  python -m livestyle doctor --model runs/<run>/game2movie.safetensors --size 640x360

The live overlay will be the default command (coming in a later version); until then running
without a command prints this help.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import LivestyleError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m livestyle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    doctor = commands.add_parser("doctor", help="what this machine offers: GPU, CUDA, TensorRT, ONNX Runtime, "
                                 "screen capture, and which backend auto picks")
    doctor.add_argument("--model", type=Path, help="game2movie.safetensors (or run folder): time the backends for it")
    doctor.add_argument("--size", default="640x360", help="inference size for --model (default 640x360)")
    doctor.add_argument("--engines", type=Path, default=Path("engines"), help="engine folder (default engines/)")
    doctor.add_argument("--threads", type=int, help="CPU threads for the CPU backends (default: all cores)")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        print("\nThe live overlay is not here yet (it will be the default command); try: python -m livestyle doctor")
        return 0
    try:
        from .doctor import report
        from .model import parse_size

        for line in report(model=args.model, size=parse_size(args.size, "--size"), engines_dir=args.engines,
                           threads=args.threads):
            print(line, flush=True)
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
