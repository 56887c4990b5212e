"""Look stage 0 (issue 25): the closed-form estimate recovers a known grade, bounds it the way films are
graded, and `training.fit --architecture look` checkpoints, validates and exports it before any step."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from livestyle.model.look import ColourLook
from training.estimate import estimate_look, graded_look


def scenes(count: int = 24, side: int = 48, seed: int = 0) -> torch.Tensor:
    """Smooth colourful uint8 N×H×W×3 pictures with some black and some white in each."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 6, 6, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=False)
    images[:, :, :3, :3] = 0.0
    images[:, :, -3:, -3:] = 1.0
    return (images * 255).round().byte().permute(0, 2, 3, 1).contiguous()


def graded(look: ColourLook, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = look(images.permute(0, 3, 1, 2).float() / 127.5 - 1)
    return ((out + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).contiguous()


def test_set_grade_shows_the_grade_it_was_given():
    look = ColourLook(8)
    matrix = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.8, 0.1], [0.1, 0.0, 0.7]])
    offset = torch.tensor([0.05, -0.02, 0.1])
    knees = torch.linspace(0, 1, 9)
    look.set_grade((knees ** 1.5).expand(3, -1), matrix, offset)
    with torch.no_grad():
        assert torch.allclose(look.matrix(), matrix, atol=1e-5)
        assert torch.allclose(look.offset(), offset, atol=1e-5)
        ramp = knees.view(1, 1, 1, 9).expand(1, 3, 1, 9)
        assert torch.allclose(look.tone(ramp)[0, :, 0], (knees ** 1.5).expand(3, -1), atol=1e-4)


def test_the_same_footage_on_both_sides_estimates_doing_nothing():
    images = scenes()
    look, numbers = estimate_look(images, images)
    assert numbers.contrast == pytest.approx(0.0, abs=0.05) and numbers.saturation == pytest.approx(1.0, abs=0.02)
    assert (graded(look, images).float() - images.float()).abs().mean() < 1.0


def test_a_known_film_grade_is_recovered_from_other_pictures():
    """Target: other scenes (another seed) under a known grade; the estimate applied to the source
    scenes comes close to the truth there, far closer than doing nothing."""
    truth = graded_look(16, 0.6, torch.tensor([0.85, 0.9, 0.8]), torch.tensor([0.08, 0.06, 0.1]), 0.6)
    source, other = scenes(seed=1), scenes(seed=2)
    look, numbers = estimate_look(source, graded(truth, other))
    wanted = graded(truth, source).float()
    error = (graded(look, source).float() - wanted).abs().mean()
    nothing = (source.float() - wanted).abs().mean()
    assert 0.3 < numbers.contrast < 0.9 and 0.45 < numbers.saturation < 0.75
    assert error < 0.35 * nothing


def test_a_spread_no_s_curve_explains_gives_the_middle_of_the_range():
    """Dark game footage and brighter, livelier film footage: an S-curve barely moves a dark picture's
    spread, so the gap is content, and the contrast is the range's middle, said so in the numbers;
    where an S-curve does explain the target (the same scenes graded), the spread decides."""
    bright = scenes(seed=4)
    dark = scenes(seed=5).float().mul(0.3)
    dark[:, -3:, -3:] = 255.0  # still some white: the black and white points see the whole range
    dark = dark.round().byte()
    _, to_film = estimate_look(dark, bright, to_film=True)
    _, from_film = estimate_look(dark, bright, to_film=False)
    assert to_film.contrast == pytest.approx(0.5) and to_film.contrast_from.startswith("middle")
    assert from_film.contrast == pytest.approx(-0.5) and from_film.contrast_from.startswith("middle")
    truth = graded_look(16, 0.8, torch.ones(3), torch.zeros(3), 1.0)
    _, explained = estimate_look(bright, graded(truth, bright))
    assert explained.contrast_from == "luma spread" and 0.55 <= explained.contrast <= 1.0
    assert json.loads(json.dumps(explained.to_dict()))["contrast_from"] == "luma spread"


def test_film_bounds_keep_a_more_colourful_scene_from_oversaturating():
    """A target that is merely more colourful content must not make game→movie more saturated or flatter."""
    source = scenes(seed=3)
    grey = source.float().mean(dim=3, keepdim=True)
    dull = (grey + 0.4 * (source.float() - grey)).round().byte()  # the same scenes, far less colourful
    _, to_film = estimate_look(dull, source, to_film=True)
    _, from_film = estimate_look(dull, source, to_film=False)
    assert to_film.saturation == pytest.approx(1.0) and 0.0 <= to_film.contrast <= 1.0
    assert from_film.saturation > 1.5 and -1.0 <= from_film.contrast <= 0.0


@pytest.mark.slow
def test_fit_writes_the_stage0_estimate_before_any_step(tmp_path, monkeypatch, capsys):
    from conftest import write_random_dataset

    from livestyle.model.weights import load_weights
    from training import fit

    monkeypatch.chdir(tmp_path)
    write_random_dataset(tmp_path / "d")
    common = ["frames", "--data", "d", "--architecture", "look", "--image-size", "32", "--d-features", "4",
              "--batch-size", "4", "--no-eval"]
    assert fit.main([*common, "--run-dir", "zero", "--look-stages", "0"]) == 0
    out = capsys.readouterr().out
    assert "look stage 0 (closed form" in out and "--look-stages 0" in out and "epoch 1" not in out
    records = [json.loads(line) for line in (tmp_path / "zero" / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("stage") for r in records] == [0] and "contrast" in records[0]["game2movie"]
    assert (tmp_path / "zero" / "checkpoints" / "stage0.pt").is_file()
    def parameters(run: str) -> dict[str, torch.Tensor]:
        return load_weights(tmp_path / run / "game2movie.safetensors")[0].state_dict()

    def drift(run: str) -> float:
        moved = parameters(run)
        return float(np.mean([(moved[k] - estimate[k]).abs().mean().item() for k in estimate]))

    estimate = parameters("zero")
    # Stage 1 starts from the same estimate; a pull toward it keeps it closer than none (Adam: same step sizes).
    refine = [*common, "--look-stages", "0+1", "--epochs", "2", "--lr-g", "0.01", "--ema", "0"]
    assert fit.main([*refine, "--run-dir", "pulled", "--look-pull", "1e4"]) == 0
    assert fit.main([*refine, "--run-dir", "free", "--look-pull", "0"]) == 0
    assert set(parameters("pulled")) == set(estimate)
    assert 0.0 < drift("pulled") < 0.5 * drift("free")
    assert all(torch.isfinite(v).all() for v in parameters("free").values())


def test_a_vignette_is_found_from_the_mean_profile_and_never_brightens_a_film():
    from livestyle.model.film import FilmLook
    from training.estimate import estimate_film

    darkened = FilmLook()
    darkened.set_vignette(0.4)
    source, other = scenes(48, seed=4), scenes(48, seed=5)
    film, numbers = estimate_film(source, graded(darkened, other))
    assert 0.25 < numbers.vignette < 0.55
    assert film.vignette_strength().item() == pytest.approx(numbers.vignette, abs=1e-4)
    brightened = FilmLook()
    brightened.set_vignette(-0.4)
    _, numbers = estimate_film(source, graded(brightened, other))
    assert numbers.vignette == 0.0  # game→movie never brightens the corners
    _, inverse = estimate_film(graded(darkened, other), source, to_film=False)
    assert -0.55 < inverse.vignette < -0.2  # movie→game undoes a vignette


@pytest.mark.slow
def test_a_look_run_stopped_by_its_time_limit_resumes_pulled_toward_its_stage0(tmp_path, monkeypatch, capsys):
    from conftest import write_random_dataset

    from training import fit

    monkeypatch.chdir(tmp_path)
    write_random_dataset(tmp_path / "d")
    common = ["frames", "--data", "d", "--architecture", "look", "--look-stages", "0+1", "--image-size", "32",
              "--d-features", "4", "--batch-size", "4", "--no-eval", "--run-dir", "run"]
    assert fit.main([*common, "--epochs", "2", "--time-limit-minutes", "0.00001"]) == 0
    assert "continue with --resume" in capsys.readouterr().out
    stage0 = (tmp_path / "run" / "checkpoints" / "stage0.pt").read_bytes()
    assert fit.main([*common, "--epochs", "2", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "look stage 0 (closed form" not in out  # stage 0 is not redone
    assert (tmp_path / "run" / "checkpoints" / "stage0.pt").read_bytes() == stage0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["stage"] == 0 and records[-1]["epoch"] == 2
    (tmp_path / "run" / "checkpoints" / "stage0.pt").write_bytes(b"damaged")
    assert fit.main([*common, "--epochs", "3", "--resume"]) == 2
    assert "stage0.pt cannot be read" in capsys.readouterr().err


@pytest.mark.slow
def test_look_plus_pyramid_trains_with_only_its_look_pulled(tmp_path, monkeypatch, capsys):
    from conftest import write_random_dataset

    from livestyle.model.weights import load_weights
    from training import fit

    monkeypatch.chdir(tmp_path)
    write_random_dataset(tmp_path / "d")
    assert fit.main(["frames", "--data", "d", "--architecture", "look+pyramid", "--look-stages", "0+1", "--epochs",
                     "1", "--image-size", "32", "--g-features", "4", "--d-features", "4", "--batch-size", "4",
                     "--no-eval", "--run-dir", "run"]) == 0
    out = capsys.readouterr().out
    assert "then a pyramid of" in out and "look stage 0 (closed form" in out and "note:" not in out
    model, info = load_weights(tmp_path / "run" / "game2movie.safetensors")
    assert info.architecture["class"] == "LookPyramid" and info.architecture["features"] == 4
