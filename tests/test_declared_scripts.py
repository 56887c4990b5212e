"""Issue 26 for the scripts: every script under scripts/ that writes files declares what it reads and writes
(`declare(args)`, livestyle.core.declared) and checks it before any work. Those that finish in seconds on tiny
inputs without a GPU, a game or Xvfb run in-process under the write recorder and must write nothing outside
their declaration; the heavy ones (training runs, a game, the live app on Xvfb, converters needing extra
packages) have their declaration checked against what their help says they write, so it cannot go missing."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from _clips import scrolling_frames, write_clip
from conftest import REPO, TINY
from test_declared import outside, run_declared

from devtools import benchmark_doc
from livestyle.core.declared import Declaration, Output
from livestyle.runtime.timing import default_cache_path
from training.synth import cached_path

SCRIPTS = REPO / "scripts"


def load(name: str):
    """scripts/NAME.py as a module (scripts/ is no package; its devtools helpers are on pytest's pythonpath)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def declared(module, argv: list) -> Declaration:
    return module.declare(module.build_parser().parse_args([str(arg) for arg in argv]))


def run_script(module, argv: list, capsys) -> tuple[Declaration, list[str]]:
    """The script's main(argv) under the recorder, which must succeed; its declaration and what it wrote."""
    code, declaration, written = run_declared(module.main, lambda a: declared(module, a), argv, capsys)
    assert code == 0, capsys.readouterr().err
    return declaration, written


def outputs(declaration: Declaration) -> dict[Path, Output]:
    return {Path(output.path): output for output in declaration.outputs}


@pytest.fixture
def pages(tmp_path, monkeypatch) -> Path:
    """A copy of docs/benchmarks/ for the scripts to file their sections into (the checkout's stays as it is)."""
    copy = tmp_path / "pages"
    shutil.copytree(benchmark_doc.PAGES, copy)
    monkeypatch.setattr(benchmark_doc, "PAGES", copy)
    return copy


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, scrolling_frames(8, seed=0))
    return path


# ------------------------------------------------------------------------ run under the write recorder

def test_benchmark_doc_files_a_section_and_writes_only_its_page(pages, tmp_path, capsys):
    table = tmp_path / "recipe-study.md"
    table.write_text("## Recipe study\n\n| a |\n")
    argv = ["recipe-study", str(table)]
    code, declaration, written = run_declared(benchmark_doc.main,
                                              lambda a: benchmark_doc.declare(benchmark_doc.parse_args(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert "| a |" in (pages / "quality.md").read_text() and written
    assert outside(declaration, written) == []


def test_benchmark_cube_writes_only_what_it_declares(pages, private_cache_and_threads, capsys):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    declaration, written = run_script(load("benchmark_cube"), [], capsys)
    assert "look-cube-parity" in (pages / "inference.md").read_text()
    assert outside(declaration, written) == [] and not list(benchmark_doc.scratch_root().iterdir())


def test_benchmark_look_writes_only_what_it_declares(pages, monkeypatch, private_cache_and_threads, capsys):
    look = load("benchmark_look")
    monkeypatch.setattr(look, "SIZES", ((64, 48),))  # one tiny size: the same backends and writes
    declaration, written = run_script(look, [], capsys)
    assert "look-speed" in (pages / "inference.md").read_text()
    assert outside(declaration, written) == []


def test_benchmark_writes_only_what_it_declares(pages, private_cache_and_threads, capsys):
    argv = ["--features", "8", "--sizes", "64x48", "--repeats", "1", "--threads", "1",
            "--backends", "torch-cpu,onnxruntime,opencv"]
    declaration, written = run_script(load("benchmark"), argv, capsys)
    assert "| torch-cpu | 64x48 |" in (pages / "inference.md").read_text()
    assert outside(declaration, written) == []


def test_benchmark_prepare_writes_only_what_it_declares(pages, private_cache_and_threads, capsys):
    declaration, written = run_script(load("benchmark_prepare"), ["--seconds", "1", "--count", "10", "--repeats", "1"],
                                      capsys)
    assert "benchmark_prepare" in (pages / "training.md").read_text()
    assert outside(declaration, written) == [] and not list(benchmark_doc.scratch_root().iterdir())


def test_benchmark_train_writes_only_what_it_declares(pages, private_cache_and_threads, capsys):
    argv = ["--device", "cpu", "--image-size", "32", "--batches", "1", "--seconds", "0"]
    declaration, written = run_script(load("benchmark_train"), argv, capsys)
    assert "benchmark_train-cpu" in (pages / "training.md").read_text()
    assert outside(declaration, written) == []


def test_benchmark_video_writes_only_what_it_declares(pages, clip, tiny_weights, tmp_path, monkeypatch,
                                                      private_cache_and_threads, capsys):
    video = load("benchmark_video")
    monkeypatch.setattr(video, "PLOT", tmp_path / "images" / "video-flicker.png")
    monkeypatch.setattr(video, "STILL", tmp_path / "images" / "video-side-by-side.jpg")
    argv = ["--clip", clip, "--model", tiny_weights, "--backend", "torch-cpu", "--threads", "1", "--strengths", "0.5",
            "--json", tmp_path / "results" / "video.json"]
    declaration, written = run_script(video, argv, capsys)
    assert (tmp_path / "results" / "video.json").is_file() and (tmp_path / "images" / "video-flicker.png").is_file()
    assert "benchmark_video" in (pages / "video.md").read_text()
    assert outside(declaration, written) == []


def test_benchmark_faces_writes_only_what_it_declares(pages, tmp_path, monkeypatch, private_cache_and_threads,
                                                      capsys):
    faces = load("benchmark_faces")
    first = faces.read_recordings(faces.RECORDINGS)[:1]
    monkeypatch.setattr(faces, "read_recordings", lambda folder: first)  # one recording: the same work, in seconds
    out = tmp_path / "faces" / "results.json"
    declaration, written = run_script(faces, ["--scenes", "3", "--out", out], capsys)
    assert out.is_file() and "faces-detector" in (pages / "faces.md").read_text()
    assert outside(declaration, written) == []


def test_benchmark_quality_writes_only_what_it_declares(pages, tmp_path, monkeypatch, private_cache_and_threads,
                                                        capsys):
    quality = load("benchmark_quality")
    monkeypatch.chdir(tmp_path)  # its runs/ and data/ are relative to the current folder
    monkeypatch.setitem(quality.BUDGETS, "quick", ["--quick", *TINY, "--limit", "8", "--epochs", "1", "--seed", "0",
                                                   "--save-every-minutes", "60"])
    argv = ["--oracles", "synthetic-frames", "--recipes", "default"]
    declaration, written = run_script(quality, argv, capsys)  # training.fit runs as its own process, declared too
    assert (tmp_path / "runs" / "quality" / "quality-quick.json").is_file()
    assert "quality-baseline" in (pages / "quality.md").read_text()
    assert outside(declaration, written) == []


def test_gpu_check_smoke_writes_only_what_it_declares(tmp_path, monkeypatch, private_cache_and_threads, capsys):
    gpu_check = load("gpu_check")
    monkeypatch.setattr(gpu_check, "LOGS", tmp_path / "logs")  # the checkout's runs/ stays as it is
    declaration, written = run_script(gpu_check, ["--checks", "inference", "--smoke", "--out", tmp_path / "out"],
                                      capsys)
    assert "error" not in json.loads((tmp_path / "out" / "gpu_check.json").read_text())["inference"]
    assert outside(declaration, written) == []


# ------------------------------------------------------------- too heavy to run: the declaration itself

def test_benchmark_live_declares_its_page_plot_screenshot_and_scratch(tmp_path):
    live = load("benchmark_live")
    shot = tmp_path / "shot.jpg"
    table = outputs(declared(live, ["--screenshot", shot]))
    assert set(table) == {benchmark_doc.page_for("benchmark_live"), shot, benchmark_doc.scratch_root()}
    soak = outputs(declared(live, ["--soak", "600"]))
    assert set(soak) == {benchmark_doc.page_for("live-soak"), live.RSS_PNG, benchmark_doc.scratch_root()}
    assert benchmark_doc.page_for("benchmark_live-faces") in outputs(declared(live, ["--faces-table"]))
    assert set(outputs(declared(live, ["--no-write"]))) == {benchmark_doc.scratch_root()}


def test_benchmark_quality_declares_its_runs_data_cache_and_page():
    quality = load("benchmark_quality")
    written = outputs(declared(quality, []))
    assert set(written) == {quality.RUNS, quality.DATA, default_cache_path(),
                            benchmark_doc.page_for("quality-baseline")}
    assert benchmark_doc.page_for("quality-baseline-full") in outputs(declared(quality, ["--budget", "full"]))
    assert declared(quality, []).inputs["the demo model"] == quality.DEMO


def test_benchmark_faces_other_tables_declare_their_set_and_sections():
    faces = load("benchmark_faces")
    paste = outputs(declared(faces, ["--paste-quality"]))
    assert set(paste) == {cached_path(*faces.PASTE_SET), benchmark_doc.page_for("faces-paste-quality")}
    assert set(outputs(declared(faces, ["--gameplay"]))) == {benchmark_doc.page_for("faces-on-gameplay")}


def test_gpu_check_declares_what_each_check_makes(tmp_path):
    gpu_check = load("gpu_check")
    argv = ["--checks", "train,recipes,oracle,video", "--recipes", "residual-cg", "--out", tmp_path / "out"]
    written = outputs(declared(gpu_check, argv))
    runs = {REPO / "runs" / name for name in ("gpu-faces-default-b64", "gpu-faces-report-b1", "gpu-faces-residual-cg",
                                             "gpu-frames-residual-cg", "gpu-real-supertux-default")}
    assert runs | {tmp_path / "out", gpu_check.LOGS, REPO / "data", Path("data"), benchmark_doc.scratch_root(),
                   default_cache_path(), REPO / "data" / "benchmark-video"} <= set(written)
    saved = declared(gpu_check, ["--from-json", tmp_path / "gpu_check.json", "--section", "gpu-check"])
    assert set(outputs(saved)) == {benchmark_doc.page_for("gpu-check")}


def test_make_demo_model_declares_the_weights_run_pictures_and_page():
    demo = load("make_demo_model")
    frames = outputs(declared(demo, []))
    assert set(frames) == {demo.ASSET, demo.SUMS, REPO / "runs" / "demo-model", benchmark_doc.page_for("demo-model"),
                           demo.DISPLAY_PICTURE, demo.SIDE_BY_SIDE_PICTURE, default_cache_path()}
    faces = outputs(declared(demo, ["--kind", "faces"]))
    assert set(faces) == {demo.FACES_ASSET, demo.SUMS, REPO / "runs" / "demo-faces-model", REPO / "data",
                          benchmark_doc.page_for("demo-faces-model")}
    copied = declared(demo, ["--no-train", "--no-write"])  # re-copy a finished run: it is read, not written
    assert set(outputs(copied)) == {demo.ASSET, demo.SUMS}
    assert copied.inputs["--run-dir"] == REPO / "runs" / "demo-model"


def test_convert_blazeface_declares_each_variants_onnx_file():
    convert = load("convert_blazeface")
    written = outputs(declared(convert, ["--variants", "back", "short-range"]))
    assert set(written) == {convert.output_path("back"), convert.output_path("short-range")}
    assert all(output.owned for output in written.values())


def test_record_gameplay_declares_the_clips_and_listing_or_out(tmp_path):
    record = load("record_gameplay")
    every = outputs(declared(record, ["--all"]))
    assert record.RECORDINGS / "recordings.json" in every and benchmark_doc.scratch_root() in every
    assert {record.clip_path(game, level) for game, level, _, _ in record.CLIPS} <= set(every)
    one = outputs(declared(record, ["supertux", "--level", "world1/welcome_antarctica", "--out", tmp_path / "c.mp4"]))
    assert set(one) == {tmp_path / "c.mp4", benchmark_doc.scratch_root()}


# ----------------------------------------------------- a refused output: one line, exit 2, before any work

REFUSING = [("benchmark_cube", []), ("benchmark_look", []), ("benchmark", []), ("benchmark_prepare", []),
            ("benchmark_train", []), ("benchmark_faces", []), ("benchmark_quality", []),
            ("benchmark_video", ["--from-json", "saved.json"]), ("benchmark_live", []), ("make_demo_model", []),
            ("gpu_check", ["--from-json", "saved.json"])]


@pytest.mark.parametrize(("name", "argv"), REFUSING, ids=[name for name, _ in REFUSING])
def test_a_page_that_cannot_be_written_is_one_error_line_before_any_work(name, argv, tmp_path, monkeypatch,
                                                                         private_cache_and_threads, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(benchmark_doc, "PAGES", blocker / "benchmarks")  # a file where the pages' folder should be
    monkeypatch.chdir(tmp_path)  # where the scripts' relative outputs (runs/, data/) would go
    code = load(name).main(argv)
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and error[0].startswith("error: ") and "is a file, not a folder" in error[0]
    assert list(tmp_path.iterdir()) == [blocker]  # nothing made: no scratch, no run, no cache
