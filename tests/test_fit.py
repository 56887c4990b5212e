import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import REPO, TINY, run_module, write_random_dataset

import training.fit as fit


@pytest.mark.slow
def test_end_to_end_run_leaves_every_file(random_dataset, tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("training.fit", "faces", "--data", random_dataset, *TINY, "--epochs", "2",
                        "--limit", "8", "--batch-size", "2", "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    assert "ETA" in result.stdout + result.stderr
    for name in ("config.json", "metrics.jsonl", "game2movie.safetensors", "movie2game.safetensors",
                 "samples_epoch001.png", "samples_epoch002.png", "checkpoints/last.pt",
                 "checkpoints/best.pt", "eval.json", "test_grid.png"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").iterdir())
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert {"g_cycle", "g_identity", "d_total", "val_cycle", "cycle_flat_fraction"} <= set(lines[0])
    checkpoint = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["config"]["lambdas"] == [0.0625, 0.625, 0.3125]
    from livestyle.faces.crop import FACE_CROP
    from livestyle.model.weights import face_crops, read_metadata
    metadata = read_metadata(run_dir / "game2movie.safetensors")  # what the runtime needs to use it right
    assert metadata["kind"] == "faces" and face_crops(run_dir / "game2movie.safetensors", metadata) == (FACE_CROP, 32)


def settings(argv: list[str]) -> dict:
    return fit.build_config(fit.parse_args(argv)).to_dict()


def test_report_recipe_is_table_1():
    config = settings(["faces", "--recipe", "report"])
    assert ((config["lr_g"], config["lr_d"], config["lambdas"], config["gan_loss"])
            == (1e-3, 1e-4, [0.7, 0.2, 0.1], "bce"))
    assert (config["epochs"], config["batch_size"], config["image_size"], config["count"]) == (36, 1, 128, 1000)
    frames = settings(["frames", "--recipe", "report"])
    assert (frames["lambdas"], frames["epochs"], frames["count"]) == ([0.5, 0.3, 0.2], 40, 1500)
    assert (frames["upsample"], frames["identity"]) == ("deconv", "report")  # the report's network and loss
    default = settings(["frames"])  # the recipe studies' choices (issues 3 and 25)
    assert default["gan_loss"] == "lsgan" and settings(["frames", "--recipe", "look-refined"])["identity"] == "cyclegan"
    assert settings(["frames", "--recipe", "pyramid"])["upsample"] == "resize"
    assert settings(["frames", "--upsample", "deconv"])["upsample"] == "deconv"
    overridden = settings(["frames", "--quick", "--epochs", "7", "--lambdas", ".2,.5,.3"])
    assert overridden["epochs"] == 7 and overridden["lambdas"] == [0.2, 0.5, 0.3]
    # --quick keeps look-refined's and pyramid's 128 px crops (the scale their studies measured); 64 px otherwise.
    refined = settings(["frames", "--quick", "--recipe", "look-refined"])
    assert refined["image_size"] == 128 and settings(["frames", "--quick", "--recipe", "report"])["image_size"] == 64
    assert overridden["image_size"] == 64 and settings(["frames", "--quick", "--image-size", "96"])["image_size"] == 96


def test_default_recipe_is_the_default_study_choice():
    default = settings(["frames"])  # issue 25's rule: the film look in closed form (the study's look-stage0)
    assert (default["architecture"], default["look_stages"], default["crop"]) == ("look", "0", False)
    refined = settings(["frames", "--recipe", "look-refined"])  # the study's look-stage01, kept by name
    assert (refined["architecture"], refined["look_stages"], refined["lr_g"], refined["crop"],
            refined["d_downsample"], refined["ema"]) == ("look", "0+1", 2e-3, True, 2, 0.0)
    pyramid = settings(["frames", "--recipe", "pyramid"])  # issue 16's default, kept by name
    assert (pyramid["architecture"], pyramid["pyramid_levels"], pyramid["crop"], pyramid["d_downsample"],
            pyramid["ema"]) == ("pyramid", 2, True, 2, 0.99)
    quick = settings(["faces", "--quick"])  # what the study's look-stage0 estimated from
    assert (quick["image_size"], quick["limit"], quick["batch_size"]) == (64, 200, 4)
    quick = settings(["faces", "--quick", "--recipe", "look-refined"])  # what the study's look-stage01 trained
    assert (quick["image_size"], quick["epochs"], quick["limit"], quick["batch_size"]) == (128, 8, 200, 4)
    assert settings(["frames", "--no-crop", "--architecture", "plain"])["crop"] is False


@pytest.mark.slow
def test_resume_after_kill_mid_epoch(tmp_path):
    data = write_random_dataset(tmp_path / "data", size=32, counts=(("train", 48), ("val", 2), ("test", 2)))
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "training.fit", "faces", "--data", str(data), *TINY, "--epochs", "1",
            "--run-dir", str(run_dir), "--save-every-minutes", "0", "--no-eval"]
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run_dir / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if last.exists() and torch.load(last, weights_only=True)["step_in_epoch"] > 0:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training finished before it could be killed"
    position = torch.load(last, weights_only=True)
    assert position["epoch"] == 0 and 0 < position["step_in_epoch"] < 48

    result = run_module("training.fit", "faces", "--run-dir", run_dir, "--resume", "--no-eval")
    assert result.returncode == 0, result.stderr
    assert f"step {position['step_in_epoch']}" in result.stdout
    final = torch.load(last, weights_only=True)
    assert final["epoch"] == 1 and final["global_step"] == 48
    assert (run_dir / "game2movie.safetensors").is_file()


def test_nan_loss_stops_and_keeps_the_checkpoint(random_dataset, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    assert fit.main(["faces", "--data", str(random_dataset), *TINY, "--epochs", "1", "--limit", "4",
                     "--run-dir", str(run_dir), "--no-eval"]) == 0
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()
    monkeypatch.setattr(fit, "generator_adversarial", lambda logits, kind: logits.mean() * float("nan"))
    assert fit.main(["faces", "--run-dir", str(run_dir), "--resume", "--epochs", "2", "--no-eval"]) == 1
    assert "NaN" in capsys.readouterr().err
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before


@pytest.mark.parametrize("extra,message", [
    (["--lambdas", "0.5,0.3,0.3"], "sum to 1.1"),
    (["--lambdas", "1,0"], "three"),
    (["--image-size", "30"], "multiple of 8"),
    (["--resume"], "no checkpoint"),
    (["--data", "/nonexistent/data"], "does not exist"),
])
def test_bad_input_is_one_clear_error(random_dataset, tmp_path, capsys, extra, message):
    argv = ["faces", "--run-dir", str(tmp_path / "run"), *TINY, "--epochs", "1"]
    if "--data" not in extra:
        argv += ["--data", str(random_dataset)]
    assert fit.main(argv + extra) == 2  # bad input
    error = capsys.readouterr().err
    assert message in error and error.startswith("error:") and "Traceback" not in error


def test_batch_larger_than_the_data_is_refused(tmp_path, capsys):
    data = write_random_dataset(tmp_path / "d", size=32, counts=(("train", 3), ("val", 2), ("test", 2)))
    assert fit.main(["faces", "--data", str(data), *TINY, "--batch-size", "4", "--run-dir", str(tmp_path / "r")]) == 2
    assert "lower --batch-size" in capsys.readouterr().err


@pytest.mark.slow
def test_distributed_data_parallel_on_two_cpu_processes(random_dataset, tmp_path):
    run_dir = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
         "-m", "training.fit", "faces", "--data", str(random_dataset), *TINY, "--epochs", "1",
         "--limit", "8", "--batch-size", "2", "--device", "cpu", "--run-dir", str(run_dir), "--no-eval"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "batch 2×2" in result.stdout
    record = json.loads((run_dir / "metrics.jsonl").read_text())
    assert record["step"] == 2  # 8 pairs / (2 processes × batch 2)
    assert (run_dir / "game2movie.safetensors").is_file()


def test_time_limit_stops_with_a_validated_resumable_run(random_dataset, tmp_path):
    run_dir = tmp_path / "run"
    assert fit.main(["faces", "--data", str(random_dataset), *TINY, "--epochs", "3", "--limit", "16",
                     "--run-dir", str(run_dir), "--time-limit-minutes", "0.00001", "--no-eval"]) == 0
    record = json.loads((run_dir / "metrics.jsonl").read_text())
    assert record["partial_epoch"] and record["step"] == 1
    position = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert (position["epoch"], position["step_in_epoch"]) == (0, 1)
    assert (run_dir / "game2movie.safetensors").is_file()


def test_image_pool_mixes_history_and_keeps_its_size():
    torch.manual_seed(0)
    pool = fit.ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling up: the newest come straight back
    later = torch.full((64, 1, 1, 1), 100.0)
    mixed = pool.query(later)
    assert len(pool.images) == 4 and mixed.shape == later.shape
    assert (mixed < 100).any() and (mixed == 100).sum() > 32
    assert torch.equal(fit.ImagePool(0).query(later), later)


def test_linear_schedule_keeps_then_decays():
    factors = [fit.learning_rate_factor("linear", 10, e) for e in range(10)]
    assert factors[:4] == [1.0] * 4
    assert all(a > b for a, b in zip(factors[4:], factors[5:], strict=False)) and factors[-1] > 0
    assert fit.learning_rate_factor("constant", 10, 9) == 1.0


def test_every_recipe_lever_trains(random_dataset, tmp_path):
    run_dir = tmp_path / "run"
    assert fit.main(["faces", "--data", str(random_dataset), *TINY, "--epochs", "2", "--limit", "4",
                     "--batch-size", "2", "--run-dir", str(run_dir), "--no-eval", "--residual",
                     "--identity", "cyclegan", "--pool-size", "3", "--spectral-norm", "--lr-schedule",
                     "linear", "--gan-loss", "hinge", "--upsample", "resize"]) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["residual"], config["identity"], config["pool_size"]) == (True, "cyclegan", 3)


def test_pyramid_architecture_trains_with_crops_and_its_weights_run_anywhere(tmp_path):
    data = write_random_dataset(tmp_path / "wide", size=48)  # 48x48 frames: 32 px crops of them
    run_dir = tmp_path / "run"
    assert fit.main(["frames", "--data", str(data), *TINY, "--epochs", "1", "--limit", "4", "--batch-size", "2",
                     "--run-dir", str(run_dir), "--architecture", "pyramid", "--pyramid-levels", "3",
                     "--crop"]) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["architecture"], config["pyramid_levels"], config["crop"]) == ("pyramid", 3, True)
    from livestyle.model.loaded import load_model
    model = load_model(run_dir / "game2movie.safetensors")
    assert model.architecture["class"] == "PyramidGenerator" and model.architecture["levels"] == 3
    assert model.size_multiple == 1
    assert (run_dir / "eval.json").is_file()


def test_report_recipe_keeps_the_plain_generator():
    assert settings(["frames", "--recipe", "report"])["architecture"] == "plain"
    # A flag given on the command line wins over the recipe, as for every other setting.
    assert settings(["frames", "--recipe", "report", "--architecture", "pyramid"])["architecture"] == "pyramid"


def test_crops_never_upscale(random_dataset, tmp_path, capsys):
    # random_dataset holds 32x32 images: 40 px crops cannot come from them.
    assert fit.main(["faces", "--data", str(random_dataset), "--g-features", "8", "--d-features", "8",
                     "--image-size", "40", "--crop", "--run-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "is 32x32, smaller than --image-size 40: crops are never upscaled" in error
    assert len(error.strip().splitlines()) == 1


def test_moving_average_is_what_a_run_exports_and_resumes(random_dataset, tmp_path):
    run_dir = tmp_path / "run"
    argv = ["faces", "--data", str(random_dataset), *TINY, "--epochs", "1", "--limit", "4", "--batch-size", "2",
            "--run-dir", str(run_dir), "--no-eval", "--ema", "0.5", "--d-downsample", "1",
            "--architecture", "pyramid", "--pyramid-levels", "2"]
    assert fit.main(argv) == 0
    checkpoint = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    from safetensors.torch import load_file
    exported = load_file(run_dir / "game2movie.safetensors")
    averaged = {k.removeprefix("module.game2movie."): v for k, v in checkpoint["ema"].items()
                if k.startswith("module.game2movie.")}
    trained = {k.removeprefix("game2movie."): v for k, v in checkpoint["generators"].items()
               if k.startswith("game2movie.")}
    assert exported.keys() <= averaged.keys()
    assert all(torch.equal(exported[k], averaged[k]) for k in exported)
    assert any(not torch.equal(exported[k], trained[k]) for k in exported)  # the average, not the last step
    assert fit.main(["faces", "--run-dir", str(run_dir), "--resume", "--epochs", "2", "--no-eval"]) == 0
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["ema"]["n_averaged"] == 4


def test_discriminators_see_the_halved_images_never_below_16_px():
    assert fit.judged(torch.zeros(2, 3, 128, 96), 2).shape == (2, 3, 32, 24)
    assert fit.judged(torch.zeros(2, 3, 64, 48), 2).shape == (2, 3, 32, 24)  # 16x12 would be too few
    assert fit.judged(torch.zeros(2, 3, 32, 32), 2).shape == (2, 3, 16, 16)
    assert fit.judged(torch.zeros(2, 3, 16, 16), 2).shape == (2, 3, 16, 16)
