"""Issue 26: every command declares what it reads and writes (livestyle.core.declared), and writes nothing
else. Each command runs in-process on tiny inputs under an audit hook that records every open for
writing, rename/replace, link, mkdir and removal; a path outside the command's declaration fails the test.
Also the declaration's own checks: user outputs refused when present, owned ones replaced, outputs apart
from inputs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from _clips import scrolling_frames, write_clip

from livestyle.core.declared import Declaration, Output, recording_writes
from livestyle.core.errors import LivestyleError


def outside(declaration: Declaration, written: list[str]) -> list[str]:
    return sorted({path for path in written if not declaration.covers(path)})


def run_declared(main, parse, argv: list, capsys) -> tuple[int, Declaration, list[str]]:
    """The command's declaration from its own parser, then main(argv) under the recorder."""
    argv = [str(arg) for arg in argv]
    declaration = parse(argv)
    capsys.readouterr()
    with recording_writes() as written:
        code = main(argv)
    return code, declaration, written


# ----------------------------------------------------------------------------------------- the checks

def test_a_user_output_is_refused_when_present_and_an_owned_one_is_not(tmp_path):
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"x")
    with pytest.raises(LivestyleError, match="exists; add --overwrite"):
        Declaration("test", {}, (Output("OUT", existing),)).check()
    Declaration("test", {}, (Output("OUT", existing),), overwrite=True).check()
    Declaration("test", {}, (Output("--stats", existing, owned=True),)).check()


def test_an_existing_read_only_out_is_refused_with_overwrite_too(tmp_path, monkeypatch):
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"x")
    real_access = os.access
    # As root (CI) every file is writable: ask as a user would be answered for a file without write permission.
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == existing else real_access(path, mode))
    with pytest.raises(LivestyleError, match="is read-only: it cannot be replaced; make it writable"):
        Declaration("test", {}, (Output("OUT", existing),), overwrite=True).check()


def test_an_output_through_a_link_to_an_input_is_refused(tmp_path):
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"x")
    (tmp_path / "link.mp4").symlink_to(source)
    with pytest.raises(LivestyleError, match="is IN"):
        Declaration("test", {"IN": source}, (Output("OUT", tmp_path / "link.mp4"),), overwrite=True).check()


def test_covers_our_own_names_next_to_an_output_and_nothing_else(tmp_path):
    declaration = Declaration("test", {}, (Output("OUT", tmp_path / "a" / "out.mp4"),
                                           Output("--out", tmp_path / "set", folder=True)))
    for path in ("a/out.mp4", "a/.out.x1y2.partial.mp4", "a/.out.k.trial.mp4", "a/out.livestyle-1.mp4", "a",
                 "a/.livestyle-probe.abc", ".livestyle-probe.abc", "set/train/game/1.png", ".set.q.partial"):
        assert declaration.covers(tmp_path / path), path
    for path in ("a/other.mp4", "b/out.mp4", "a/.other.x.partial.mp4", "setx/1.png", "a/out.mp4.bak"):
        assert not declaration.covers(tmp_path / path), path


def test_removing_a_folder_on_the_way_to_an_output_is_not_declared(tmp_path):
    import shutil

    (tmp_path / "a" / "b").mkdir(parents=True)
    declaration = Declaration("test", {}, (Output("OUT", tmp_path / "a" / "b" / "out.mp4"),))
    with recording_writes() as written:
        os.mkdir(tmp_path / "a" / "c")
        shutil.rmtree(tmp_path / "a")
    assert outside(declaration, written) == sorted({str(tmp_path / "a"), str(tmp_path / "a" / "c")})
    assert declaration.covers(tmp_path / "a")  # making it on the way is


def test_the_recorder_sees_every_kind_of_write(tmp_path):
    with recording_writes() as written:
        (tmp_path / "a").write_text("a")
        os.replace(tmp_path / "a", tmp_path / "b")
        os.mkdir(tmp_path / "c")
        os.close(os.open(tmp_path / "d", os.O_CREAT | os.O_WRONLY))
        (tmp_path / "b").read_text()
    assert written == [str(tmp_path / name) for name in "abcd"]


# ------------------------------------------------------------------------------ every command, declared

@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, scrolling_frames(8, seed=0))
    return path


def test_video_writes_only_what_it_declares(clip, tiny_weights, tmp_path, capsys, private_cache_and_threads):
    from livestyle.video import __main__ as video

    argv = [clip, tmp_path / "out" / "styled.mp4", "--model", tiny_weights, "--backend", "torch-cpu", "--quiet",
            "--stats", tmp_path / "stats.json", "--threads", "1"]
    code, declaration, written = run_declared(video.main, lambda a: video.declare(video.build_parser().parse_args(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "styled.mp4").is_file() and written
    assert outside(declaration, written) == []


def test_synth_writes_only_what_it_declares(tmp_path, capsys):
    from training import synth

    argv = ["frames", "--out", tmp_path / "sets" / "synth", "--count", "10", "--image-size", "16", "--quiet"]
    code, declaration, written = run_declared(synth.main, lambda a: synth.declare(synth.build_parser().parse_args(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "sets" / "synth" / "manifest.json").is_file()
    assert outside(declaration, written) == []


def test_oracle_writes_only_what_it_declares(tmp_path, capsys, monkeypatch):
    from _clips import SMALL, make_recordings

    from training import oracle

    recordings = make_recordings(tmp_path / "recordings", levels=("one", "two", "three", "four"))
    monkeypatch.setattr(oracle, "MINIMUM", SMALL)
    argv = ["toy", "--recordings", recordings, "--out", tmp_path / "toy-oracle", "--quiet"]
    code, declaration, written = run_declared(oracle.main,
                                              lambda a: oracle.declare(oracle.build_parser().parse_args(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert outside(declaration, written) == [] and (tmp_path / "toy-oracle" / "manifest.json").is_file()


def test_prepare_writes_only_what_it_declares(tmp_path, clip, capsys):
    from training import prepare

    argv = ["frames", "--game", clip, "--movie", clip.parent, "--out", tmp_path / "mine", "--count", "10",
            "--image-size", "16", "--quiet", "--allow-fewer"]
    code, declaration, written = run_declared(prepare.main,
                                              lambda a: prepare.declare(prepare.build_parser().parse_args(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert outside(declaration, written) == [] and (tmp_path / "mine" / "manifest.json").is_file()


def test_evaluate_writes_only_what_it_declares_and_keeps_an_existing_out(tiny_weights, synthetic_faces, tmp_path,
                                                                          capsys, private_cache_and_threads):
    from training import evaluate

    out = tmp_path / "scores" / "demo.json"
    argv = ["--weights", tiny_weights, "--data", synthetic_faces, "--out", out, "--device", "cpu"]
    parse = evaluate.build_parser().parse_args
    code, declaration, written = run_declared(evaluate.main, lambda a: evaluate.declare(parse(a)), argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert outside(declaration, written) == [] and out.is_file() and out.with_suffix(".png").is_file()
    out.write_text("my notes")
    assert evaluate.main([str(a) for a in argv]) == 2
    assert "already exists; add --overwrite" in capsys.readouterr().err and out.read_text() == "my notes"
    assert evaluate.main([str(a) for a in argv] + ["--overwrite"]) == 0 and out.read_text() != "my notes"


def test_build_engine_writes_only_what_it_declares(tiny_weights, tmp_path, capsys):
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("build_engine_script", REPO / "scripts" / "build_engine.py")
    build_engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_engine)
    argv = ["--weights", tiny_weights, "--format", "onnx", "--size", "64x32", "--out", tmp_path / "engines"]
    code, declaration, written = run_declared(build_engine.main,
                                              lambda a: build_engine.declare(build_engine.build_parser().parse_args(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert outside(declaration, written) == [] and list((tmp_path / "engines").glob("*.onnx"))


def test_fit_writes_only_what_it_declares(random_dataset, tmp_path, capsys):
    from conftest import TINY

    from training import fit

    argv = ["frames", "--data", random_dataset, "--run-dir", tmp_path / "runs" / "tiny", "--epochs", "1", "--limit",
            "8", "--batch-size", "4", *TINY, "--no-eval"]
    code, declaration, written = run_declared(fit.main, lambda a: fit.declare(fit.parse_args(a)), argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert outside(declaration, written) == [] and (tmp_path / "runs" / "tiny" / "game2movie.safetensors").is_file()


def test_metrics_and_doctor_write_nothing_but_the_backend_cache(clip, tiny_weights, tmp_path, capsys,
                                                               private_cache_and_threads):
    from livestyle import __main__ as livestyle_main
    from livestyle.video import metrics

    parse = metrics.build_parser().parse_args
    code, declaration, written = run_declared(metrics.main, lambda a: metrics.declare(parse(a)),
                                              [clip, clip, "--json"], capsys)
    assert code == 0 and outside(declaration, written) == []
    argv = ["doctor", "--model", tiny_weights, "--size", "64x32", "--engines", tmp_path / "engines", "--threads", "1"]
    parse = livestyle_main.build_parser().parse_args
    code, declaration, written = run_declared(livestyle_main.main, lambda a: livestyle_main.declare(parse(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert outside(declaration, written) == [] and written  # it timed the backends: the cache, nothing else


def test_the_live_app_writes_only_what_it_declares(qapp, tiny_weights, tmp_path, private_cache_and_threads):
    from test_app import MovingSource

    from livestyle.live import app

    args = app.build_parser().parse_args(["--model", str(tiny_weights), "--backend", "torch-cpu", "--size", "64x48",
                                          "--exit-after", "1", "--stats", str(tmp_path / "live.json"), "--dump-last",
                                          str(tmp_path / "last"), "--no-hud", "--threads", "1"])
    declaration = app.declare(args)
    with recording_writes() as written:
        code = app.run(args, source_factory=MovingSource, capture_rect=(0, 0, 128, 96), log=lambda message: None)
    assert code == 0 and (tmp_path / "live.json").is_file() and list((tmp_path / "last").iterdir())
    assert outside(declaration, written) == []


def test_the_study_writes_only_what_it_declares(tmp_path, monkeypatch, capsys):
    from conftest import TINY

    from training import study

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(study, "BUDGET", ["--quick", *TINY, "--limit", "8", "--epochs", "1", "--seed", "0"])
    argv = ["--kinds", "frames", "--only", "report", "colour-transfer", "--section", "declared-study"]
    code, declaration, written = run_declared(study.main, lambda a: study.declare(study.build_parser().parse_args(a)),
                                              argv, capsys)
    assert code == 0, capsys.readouterr().err
    assert outside(declaration, written) == [] and (tmp_path / "runs" / "study" / "declared-study.md").is_file()


@pytest.fixture
def immutable(tmp_path):
    """A file marked immutable (chattr +i; root on a file system that has the flag, as CI), unmarked after."""
    import shutil
    import subprocess

    path = tmp_path / "out.mp4"
    path.write_bytes(b"kept")
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not possible here (needs root and a file system with the flag)")
    yield path
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_an_immutable_out_with_overwrite_is_refused_before_work(immutable, clip, tiny_weights, capsys,
                                                                 private_cache_and_threads):
    from livestyle.video import __main__ as video

    code = video.main([str(clip), str(immutable), "--model", str(tiny_weights), "--overwrite", "--quiet",
                       "--backend", "torch-cpu", "--threads", "1"])
    error = capsys.readouterr().err
    assert code == 2 and len(error.strip().splitlines()) == 1, error
    assert "marked immutable" in error and immutable.read_bytes() == b"kept"
    assert sorted(p.name for p in immutable.parent.iterdir()) == ["out.mp4"]
