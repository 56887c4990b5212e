"""tensorrt: a serialized TensorRT engine (scripts/build_engine.py) run with the TensorRT 10+
name-based API — tensors looked up by name, torch CUDA tensors as the I/O buffers (set_tensor_address
once), execute_async_v3 on a non-default CUDA stream."""
from __future__ import annotations

from pathlib import Path

import torch

from livestyle.core.errors import LivestyleError, require
from livestyle.runtime.backends.base import Backend

REBUILD = "rebuild it with python scripts/build_engine.py --format tensorrt"


def tensorrt_or_error():
    return require("tensorrt", "pip install -e '.[tensorrt]' on a CUDA machine")


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, engine_path: str | Path, size: tuple[int, int], precision: str = "", batch: int = 1):
        trt = tensorrt_or_error()
        if not torch.cuda.is_available():
            raise LivestyleError("tensorrt: no CUDA device visible to torch (the engine's buffers are torch CUDA "
                                 "tensors)")
        self.path, self.size = Path(engine_path), size
        self.device = torch.device("cuda", torch.cuda.current_device())
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise LivestyleError(f"{self.path}: cannot read the engine ({error})") from None
        self.engine = self.runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise LivestyleError(f"{self.path}: TensorRT {trt.__version__} could not deserialize it (corrupt, or built "
                                 f"by another TensorRT version or GPU); {REBUILD}")
        self.context = self.engine.create_execution_context()
        dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise LivestyleError(f"{self.path}: expected one input and one output tensor, found {inputs} and "
                                 f"{outputs}; {REBUILD}")
        expected = (batch, 3, size[1], size[0])
        buffers = {}
        for name in (inputs[0], outputs[0]):
            shape = tuple(self.engine.get_tensor_shape(name))
            dtype = dtypes.get(self.engine.get_tensor_dtype(name))
            if shape != expected or dtype is None:
                raise LivestyleError(f"{self.path}: tensor {name!r} is {shape} {self.engine.get_tensor_dtype(name)}, "
                                     f"expected {expected} float or half; {REBUILD}")
            buffers[name] = torch.empty(shape, dtype=dtype, device=self.device)
            if not self.context.set_tensor_address(name, buffers[name].data_ptr()):
                raise LivestyleError(f"{self.path}: TensorRT refused the buffer for {name!r}")
        self.input, self.output = buffers[inputs[0]].zero_(), buffers[outputs[0]]
        self.stream = torch.cuda.Stream(self.device)
        self.stream.wait_stream(torch.cuda.current_stream(self.device))  # the buffers were zeroed there
        shown = precision or ("fp16" if self.input.dtype == torch.float16 else "fp32")
        self.detail = f"{shown}, TensorRT {trt.__version__}"

    def forward(self) -> torch.Tensor:
        # The Stylizer writes the input on self.stream, so this launch is ordered after it.
        assert self.stream is not None, "made in __init__"
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise LivestyleError(f"{self.path}: TensorRT execution failed (see the TensorRT messages above)")
        return self.output

    def close(self) -> None:
        self.release("context", "engine", "runtime", "input", "output")
