"""The runtime: Stylizer pre/post-processing, the backends, auto's choice and cache, and the
checks on engines and weights. Tiny generator (N=8), small frames; one CPU thread (fast everywhere)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from livestyle.core.errors import LivestyleError
from livestyle.core.files import sha256_file
from livestyle.model.generator import Generator
from livestyle.model.loaded import load_model
from livestyle.model.weights import save_generator
from livestyle.runtime.backends import NAMES
from livestyle.runtime.engines.sidecars import SIDECAR_FORMAT, problems, sidecar_path
from livestyle.runtime.machine import Machine, probe
from livestyle.runtime.stylizer import Stylizer
from livestyle.runtime.timing import choose

SIZE = (64, 48)
HAS_ORT = probe().onnxruntime is not None
needs_ort = pytest.mark.skipif(not HAS_ORT, reason="onnxruntime: not installed (pip install -e '.[onnx]')")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch-cuda: no CUDA device")


class Identity(nn.Module):
    """Output = input: what goes in comes out, so only pre/post-processing is tested."""

    def __init__(self):
        super().__init__()
        self.seen = None

    def forward(self, x):
        self.seen = x.detach().clone()
        return x * 1.0


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return Generator(features=8).eval()


@pytest.fixture(scope="module")
def weights(generator, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "game2movie.safetensors"
    save_generator(generator, path, "game2movie")
    return path


def frame(height=SIZE[1], width=SIZE[0], channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def reference(generator, bgr):
    """The obvious, slow way: BGR → RGB → [-1, 1] → network → uint8 → BGR."""
    x = torch.from_numpy(bgr[..., ::-1].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    with torch.no_grad():
        y = generator(x)[0].permute(1, 2, 0).numpy()
    return np.clip(np.floor((y + 1) * 127.5 + 0.5), 0, 255).astype(np.uint8)[..., ::-1]


def test_pure_red_stays_red_through_pre_and_post_processing():
    identity = Identity()
    stylizer = Stylizer(identity, "torch-cpu", size=SIZE, threads=1)
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 2] = 255  # BGR
    out = stylizer(red)
    assert (out[..., 2] == 255).all() and (out[..., :2] == 0).all()
    seen = identity.seen[0]  # the network sees RGB in [-1, 1]
    assert torch.allclose(seen[0], torch.tensor(1.0)) and torch.allclose(seen[1:], torch.tensor(-1.0))
    bgra = np.dstack([red, np.full((48, 64), 17, np.uint8)])  # screen capture: alpha is ignored
    assert np.array_equal(stylizer(bgra), out)
    big_red = np.zeros((300, 500, 4), np.uint8)
    big_red[..., 2] = 255
    resized = stylizer(big_red)
    assert (resized[..., 2] == 255).all() and (resized[..., :2] == 0).all()


def test_identity_round_trip_is_exact():
    stylizer = Stylizer(Identity(), "torch-cpu", size=SIZE, threads=1)
    image = frame()
    assert np.array_equal(stylizer(image), image)


@needs_ort
def test_pure_red_stays_red_with_onnxruntime():
    stylizer = Stylizer(Identity(), "onnxruntime", size=SIZE, threads=1, log=lambda m: None)
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 2] = 255
    out = stylizer(red)
    assert (out[..., 2] == 255).all() and (out[..., :2] == 0).all()


def test_torch_cpu_matches_the_reference(generator):
    stylizer = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
    for seed in range(3):
        image = frame(seed=seed)
        difference = np.abs(stylizer(image).astype(int) - reference(generator, image))
        assert difference.max() <= 1


@needs_ort
def test_onnxruntime_matches_torch(generator):
    torch_cpu = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
    ort = Stylizer(generator, "onnxruntime", size=SIZE, threads=1, log=lambda m: None)
    assert ort.backend.name == "onnxruntime"
    for seed in range(3):
        image = frame(seed=seed)
        assert np.abs(ort(image).astype(int) - torch_cpu(image)).max() <= 1
        assert np.abs(ort(image).astype(int) - reference(generator, image)).max() <= 1


@pytest.mark.parametrize("shape", [(47, 61, 3), (1, 200, 3), (200, 1, 4), (2000, 3000, 3), (2000, 3000, 4), (1, 1, 3)])
def test_any_frame_size_gives_the_inference_size(generator, shape):
    stylizer = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert stylizer(image).shape == (48, 64, 3)


def test_output_size_options(generator):
    image = frame(100, 130)
    assert Stylizer(generator, "torch-cpu", size=SIZE, threads=1, output_size="input")(image).shape == (100, 130, 3)
    assert Stylizer(generator, "torch-cpu", size=SIZE, threads=1, output_size=(90, 30))(image).shape == (30, 90, 3)
    assert Stylizer(generator, "torch-cpu", size=SIZE, threads=1, output_size="90x30")(image).shape == (30, 90, 3)


def test_bgra_flipped_and_read_only_frames(generator):
    stylizer = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
    image = frame()
    expected = stylizer(image)
    bgra = np.dstack([image, np.random.default_rng(1).integers(0, 256, (48, 64), dtype=np.uint8)])
    assert np.array_equal(stylizer(bgra), expected)
    assert np.array_equal(stylizer(bgra[..., :3]), expected)  # a channel slice of a BGRA buffer
    read_only = image.copy()
    read_only.flags.writeable = False
    assert np.array_equal(stylizer(read_only), expected)
    flipped = image[:, ::-1]
    assert np.array_equal(stylizer(flipped), stylizer(np.ascontiguousarray(flipped)))


def test_out_buffer_is_written_and_checked(generator):
    stylizer = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
    out = np.empty((48, 64, 3), np.uint8)
    assert stylizer(frame(), out=out) is out
    first = stylizer(frame())
    assert not np.shares_memory(first, stylizer(frame(seed=1)))  # without out=, every result is its own array
    with pytest.raises(LivestyleError, match="expected"):
        stylizer(frame(), out=np.empty((10, 10, 3), np.uint8))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((48, 64, 3), np.float32), "uint8"),
    (np.zeros((48, 64), np.uint8), "greyscale"),
    (np.zeros((48, 64, 5), np.uint8), "H×W×3"),
    (np.zeros((0, 64, 3), np.uint8), "empty"),
    ([[1, 2, 3]], "numpy array"),
])
def test_bad_frames_are_clear_errors(generator, bad, message):
    stylizer = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
    with pytest.raises(LivestyleError, match=message):
        stylizer(bad)


def test_bad_sizes_and_names_are_clear_errors(generator):
    with pytest.raises(LivestyleError, match="nearest: 640x360"):
        Stylizer(generator, "torch-cpu", size="642x360")
    with pytest.raises(LivestyleError, match="WIDTHxHEIGHT"):
        Stylizer(generator, "torch-cpu", size="big")
    with pytest.raises(LivestyleError, match="at least 16"):
        Stylizer(generator, "torch-cpu", size=(8, 8))
    with pytest.raises(LivestyleError, match="unknown backend"):
        Stylizer(generator, "vulkan")


def test_threads_default_to_all_cores(generator):
    before = torch.get_num_threads()
    try:
        Stylizer(generator, "torch-cpu", size=SIZE)
        assert torch.get_num_threads() == os.cpu_count()
        Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_weights_file_and_run_folder_load(weights, generator):
    image = frame()
    expected = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)(image)
    assert np.array_equal(Stylizer(weights, "torch-cpu", size=SIZE, threads=1)(image), expected)
    assert np.array_equal(Stylizer(weights.parent, "torch-cpu", size=SIZE, threads=1)(image), expected)
    assert load_model(weights).sha256 == sha256_file(weights)


def test_bad_weights_are_clear_errors(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(LivestyleError, match="not found.*training.fit"):
        load_model(tmp_path / "missing.safetensors")
    other = tmp_path / "other.safetensors"
    save_file({"conv.weight": torch.zeros(4, 3, 3, 3)}, str(other))  # not written by save_generator
    with pytest.raises(LivestyleError, match=f"{other}.*not livestyle generator weights"):
        load_model(other)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(LivestyleError, match="garbage.safetensors"):
        load_model(garbage)
    pickle = tmp_path / "last.pt"
    pickle.write_bytes(b"not opened")
    with pytest.raises(LivestyleError, match="never unpickles"):
        load_model(pickle)
    wrong = tmp_path / "wrong.safetensors"  # livestyle metadata, but weights of a wider network
    save_generator(Generator(features=16), wrong, "game2movie")
    from safetensors import safe_open

    with safe_open(str(wrong), "pt") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    metadata["architecture"] = json.dumps({"class": "Generator", "features": 8, "upsample": "deconv"})
    save_file(tensors, str(wrong), metadata=metadata)
    with pytest.raises(LivestyleError, match="do not fit the architecture"):
        load_model(wrong)


def test_auto_times_reports_and_caches(weights, tmp_path):
    cache = tmp_path / "backends.json"
    first = Stylizer(weights, "auto", size=SIZE, threads=1, cache_path=cache, engines_dir=tmp_path, log=lambda m: None)
    assert first.backend.name in NAMES
    for name in NAMES:  # every candidate gets a line saying why (not)
        assert any(line.startswith(f"{name}:") for line in first.report), first.report
    assert first.report[-1].startswith(f"auto: {first.backend.name}")
    entry = next(iter(json.loads(cache.read_text()).values()))
    assert entry["backend"] == first.backend.name and first.backend.name in entry["timings_ms"]
    second = Stylizer(weights, "auto", size=SIZE, threads=1, cache_path=cache, engines_dir=tmp_path, log=lambda m: None)
    assert second.backend.name == first.backend.name
    assert any("cached" in line for line in second.report)


def test_a_cache_that_cannot_be_written_is_said_once_and_not_claimed(weights, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    cache = tmp_path / "a-file" / "backends.json"  # what a read-only or mistyped cache folder does: the write fails
    messages: list[str] = []
    stylizer = Stylizer(weights, "auto", size=SIZE, threads=1, cache_path=cache, engines_dir=tmp_path,
                        log=messages.append)
    said = [line for line in [*messages, *stylizer.report] if "cache" in line]
    assert len([line for line in said if "cannot be written" in line]) == 1, said
    assert "LIVESTYLE_CACHE_DIR" in " ".join(said) and not any("cached in" in line for line in said), said
    assert any("not cached" in line for line in stylizer.report), stylizer.report


def test_auto_cache_location_follows_the_environment(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    Stylizer(weights, "auto", size=SIZE, threads=1, engines_dir=tmp_path, log=lambda m: None)
    assert (tmp_path / "cache" / "backends.json").is_file()


@needs_ort
def test_auto_falls_back_when_the_cached_choice_fails_to_load(weights, tmp_path, monkeypatch):
    import livestyle.runtime.timing

    cache = tmp_path / "backends.json"
    first = Stylizer(weights, "auto", size=SIZE, threads=1, cache_path=cache, engines_dir=tmp_path, log=lambda m: None)
    chosen, real_open = first.backend.name, livestyle.runtime.timing.open_backend

    def failing_open(name, *args, **kwargs):
        if name == chosen:
            raise LivestyleError(f"{name}: simulated failure")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(livestyle.runtime.timing, "open_backend", failing_open)
    messages = []
    second = Stylizer(weights, "auto", size=SIZE, threads=1, cache_path=cache, engines_dir=tmp_path,
                      log=messages.append)
    assert second.backend.name != chosen
    assert any("falling back" in m for m in messages)
    assert any(line.startswith(f"{chosen}: failed to load") for line in second.report)


def fake_gpu_machine(**changes) -> Machine:
    machine = probe()
    machine.gpu = {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0", "count": 1}
    machine.tensorrt, machine.tensorrt_error = "10.9.0", None
    for key, value in changes.items():
        setattr(machine, key, value)
    return machine


def write_fake_engine(folder: Path, weights_sha: str, *, gpu="NVIDIA H100 80GB HBM3", cc="9.0", trt="10.9.0",
                      size=SIZE, passed=True, fmt="tensorrt", data=b"not an engine") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / (f"game2movie-fake-{gpu[:4]}-{trt}-{size[0]}x{size[1]}."
                         f"{'engine' if fmt == 'tensorrt' else 'onnx'}")
    artifact.write_bytes(data)
    sidecar = {"sidecar_format": SIDECAR_FORMAT, "format": fmt, "precision": "fp16", "file": artifact.name,
               "artifact_sha256": sha256_file(artifact), "input": {"size": list(size)},
               "weights": {"path": "w", "sha256": weights_sha}, "gpu": {"name": gpu, "compute_capability": cc},
               "versions": {"tensorrt": trt}, "parity": {"passed": passed, "max_abs_error": 0.01, "tolerance": 0.05}}
    sidecar_path(artifact).write_text(json.dumps(sidecar))
    return artifact


def test_sidecar_mismatches_are_named(weights, tmp_path):
    sha = sha256_file(weights)
    machine = fake_gpu_machine()
    cases = {
        "built on NVIDIA A100": dict(gpu="NVIDIA A100-SXM4-80GB", cc="8.0"),
        "built with TensorRT 10.3.0, installed is 10.9.0": dict(trt="10.3.0"),
        "built for 640x360, not 64x48": dict(size=(640, 360)),
        "parity check failed": dict(passed=False),
    }
    for index, (message, change) in enumerate(cases.items()):
        artifact = write_fake_engine(tmp_path / str(index), sha, **change)
        found = problems(json.loads(sidecar_path(artifact).read_text()), machine, weights_sha256=sha, size=SIZE,
                         artifact=artifact)
        assert any(message in line for line in found), (message, found)
    artifact = write_fake_engine(tmp_path / "other", "0" * 64)
    found = problems(json.loads(sidecar_path(artifact).read_text()), machine, weights_sha256=sha, size=SIZE)
    assert any("other weights" in line for line in found)
    artifact = write_fake_engine(tmp_path / "changed", sha)
    artifact.write_bytes(b"changed after the build")
    found = problems(json.loads(sidecar_path(artifact).read_text()), machine, weights_sha256=sha, size=SIZE,
                     artifact=artifact)
    assert any("file changed" in line for line in found)
    no_gpu = problems(json.loads(sidecar_path(artifact).read_text()), fake_gpu_machine(gpu=None), size=SIZE)
    assert any("no CUDA GPU" in line for line in no_gpu)


def test_auto_skips_an_engine_for_another_gpu_and_falls_back(weights, tmp_path):
    model = load_model(weights)
    engines = tmp_path / "engines"
    write_fake_engine(engines, model.sha256, gpu="NVIDIA A100-SXM4-80GB", cc="8.0")
    backend, report = choose(model, SIZE, fake_gpu_machine(), engines_dir=engines, threads=1,
                             cache_path=tmp_path / "c.json", log=lambda m: None, candidates=("tensorrt", "torch-cpu"))
    assert backend.name == "torch-cpu"
    line = next(line for line in report if line.startswith("tensorrt:"))
    assert "no usable engine" in line and "built on NVIDIA A100" in line and "build_engine.py" in line


def test_auto_falls_back_when_a_fitting_engine_fails_to_load(weights, tmp_path):
    model = load_model(weights)
    engines = tmp_path / "engines"
    write_fake_engine(engines, model.sha256)  # fits the (fake) GPU, but is not an engine at all
    messages = []
    backend, report = choose(model, SIZE, fake_gpu_machine(), engines_dir=engines, threads=1,
                             cache_path=tmp_path / "c.json", log=messages.append, candidates=("tensorrt", "torch-cpu"))
    assert backend.name == "torch-cpu"
    assert any(line.startswith("tensorrt: failed") for line in report), report
    assert any("tensorrt" in m for m in messages)


@needs_ort
def test_corrupt_or_changed_onnx_file_is_a_clear_error(weights, tmp_path):
    model = load_model(weights)
    corrupt = write_fake_engine(tmp_path, model.sha256, fmt="onnx", data=b"\x08\x07garbage, not a protobuf")
    with pytest.raises(LivestyleError, match=f"{corrupt.name}.*ONNX Runtime could not load it.*build_engine"):
        Stylizer(weights, "onnxruntime", engine=corrupt, threads=1)
    corrupt.write_bytes(b"changed")
    with pytest.raises(LivestyleError, match="file changed since it was built"):
        Stylizer(weights, "onnxruntime", engine=corrupt, threads=1)
    no_sidecar = tmp_path / "lonely.onnx"
    no_sidecar.write_bytes(b"x")
    with pytest.raises(LivestyleError, match="no sidecar"):
        Stylizer(weights, "onnxruntime", engine=no_sidecar, threads=1)


@pytest.mark.skipif(probe().tensorrt is not None, reason="TensorRT is installed here")
def test_tensorrt_by_name_without_tensorrt_is_a_clear_error(weights, tmp_path):
    with pytest.raises(LivestyleError, match="tensorrt: (not installed|import failed)"):
        Stylizer(weights, "tensorrt", size=SIZE, engines_dir=tmp_path)


@needs_cuda
def test_torch_cuda_matches_torch_cpu(generator):
    cpu = Stylizer(generator, "torch-cpu", size=SIZE, threads=1)
    cuda = Stylizer(generator, "torch-cuda", size=SIZE)
    for seed in range(3):
        image = frame(seed=seed)
        assert np.abs(cuda(image).astype(int) - cpu(image)).max() <= 8  # fp16
    red = np.zeros((48, 64, 4), np.uint8)
    red[..., 2] = 255
    out = Stylizer(Identity(), "torch-cuda", size=SIZE)(red)
    assert (out[..., 2] >= 254).all() and (out[..., :2] <= 1).all()


@needs_cuda
@pytest.mark.skipif(probe().tensorrt is None, reason="tensorrt: not installed")
def test_tensorrt_engine_builds_and_matches_torch(weights, tmp_path):
    from livestyle.runtime.engines.build import build_tensorrt

    machine = probe()
    model = load_model(weights)
    engine = build_tensorrt(model, SIZE, tmp_path, machine, log=lambda m: None)
    assert json.loads(sidecar_path(engine).read_text())["parity"]["passed"]
    stylizer = Stylizer(weights, "auto", size=SIZE, engines_dir=tmp_path, cache_path=tmp_path / "c.json",
                        log=lambda m: None)
    assert any(line.startswith("tensorrt:") and "ms/frame" in line for line in stylizer.report), stylizer.report
    trt = Stylizer(weights, "tensorrt", size=SIZE, engines_dir=tmp_path)
    cpu = Stylizer(weights, "torch-cpu", size=SIZE, threads=1)
    image = frame()
    assert np.abs(trt(image).astype(int) - cpu(image)).max() <= 8


def test_the_size_multiple_comes_from_the_weights(generator, weights, tmp_path):
    """A model that declares a coarser multiple (a deeper network would) is held to it; one that says
    nothing, to the generator's 8; a multiple the architecture cannot run is refused on loading."""
    assert load_model(weights).size_multiple == 8 and load_model(weights).kind == "frames"
    coarse = tmp_path / "coarse" / "game2movie.safetensors"
    coarse.parent.mkdir()
    save_generator(generator, coarse, "game2movie", {"size_multiple": "16", "preset": "faces"})
    assert load_model(coarse).size_multiple == 16 and load_model(coarse).kind == "faces"
    with pytest.raises(LivestyleError, match="multiples of 16 and at least 16.*nearest: 64x64"):
        Stylizer(coarse, "torch-cpu", size=(64, 56), threads=1)
    assert Stylizer(coarse, "torch-cpu", size=(64, 48), threads=1).size == (64, 48)
    wrong = tmp_path / "wrong" / "game2movie.safetensors"
    wrong.parent.mkdir()
    save_generator(generator, wrong, "game2movie", {"size_multiple": "12"})
    with pytest.raises(LivestyleError, match="field 'size_multiple' is '12', not a multiple of 8"):
        load_model(wrong)
