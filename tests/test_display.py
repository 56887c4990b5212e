"""The structure measure, scores at display resolution, and evaluate/fit on recorded footage."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _clips import SMALL, make_recordings, scrolling_frames

from training import display, evaluate, fit, metrics, oracle


def detailed_image() -> np.ndarray:
    """A 128×128 RGB frame with edges at many scales (blocks, lines, text)."""
    image = scrolling_frames(1, seed=3, size=(128, 128))[0].copy()
    cv2.putText(image, "livestyle", (4, 70), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (250, 250, 250), 2)
    cv2.line(image, (0, 0), (127, 127), (10, 10, 10), 1)
    return image


def test_structure_known_answers():
    truth = metrics.uint8_to_unit(detailed_image())
    blurred = metrics.uint8_to_unit(cv2.GaussianBlur(detailed_image(), (0, 0), 2.0))
    noise = torch.randn(truth.shape, generator=torch.Generator().manual_seed(0)) * 0.05
    same = metrics.structure(truth, truth).item()
    soft = metrics.structure(blurred, truth).item()
    assert same == pytest.approx(1.0, abs=1e-6)
    assert soft < 0.97
    # Noise adds gradients where the truth has none: it must not buy back the blurred detail.
    assert metrics.structure((blurred + noise).clamp(0, 1), truth).item() < soft
    assert metrics.structure((truth + noise).clamp(0, 1), truth).item() < same
    # A grade that keeps the edges (gain and offset) keeps the structure; a flat image has none.
    assert metrics.structure(truth * 0.6 + 0.2, truth).item() == pytest.approx(1.0, abs=1e-3)
    assert metrics.structure(torch.full_like(truth, 0.5), truth).item() == 0.0


def test_display_scores_references():
    frames = [np.ascontiguousarray(f) for f in scrolling_frames(3, seed=1, size=(96, 56))]
    truths = [cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames]
    identity, kept = display.display_scores(lambda f: f, frames, truths, (48, 24), keep=2)
    assert identity["model"] == identity["do_nothing"]
    assert identity["resized_only"]["psnr"] != identity["do_nothing"]["psnr"]
    assert len(kept) == 2 and kept[0][0].shape == (56, 96, 3)
    lookup = {f.tobytes(): t for f, t in zip(frames, truths, strict=False)}
    perfect, _ = display.display_scores(lambda f: lookup[f.tobytes()], frames, truths, (48, 24))
    assert perfect["model"]["ssim"] == pytest.approx(1.0) and perfect["model"]["structure"] == pytest.approx(1.0)
    assert display.verdict(perfect) == "better than doing nothing"
    shown, _ = display.display_scores(lambda f: cv2.resize(f, (64, 32)), frames, truths, (48, 24), (64, 32))
    assert shown["output_size"] == [64, 32]
    with pytest.raises(ValueError, match="expected 96x56"):
        display.display_scores(lambda f: f[:10], frames, truths, (48, 24))


@pytest.fixture(scope="module")
def toy_oracle(tmp_path_factory) -> Path:
    recordings = make_recordings(tmp_path_factory.mktemp("recordings"), levels=("one", "two", "three", "four"))
    out = tmp_path_factory.mktemp("oracle") / "toy"
    oracle.build("toy", "bleach-bypass", "other-levels", out, recordings, progress=False, minimum=SMALL)
    return out


def test_evaluate_weights_at_display_resolution(toy_oracle, tiny_weights, tmp_path, capsys):
    out = tmp_path / "demo.json"
    code = evaluate.main(["--weights", str(tiny_weights), "--data", str(toy_oracle), "--size", "48x32",
                          "--image-size", "32", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    shown = result["display"]
    assert shown["size"] == [48, 32] and shown["output_size"] == "input" and shown["pairs"] == 20
    assert "torch-cpu" in shown["backend"]
    for reference in ("model", "do_nothing", "resized_only"):
        assert set(shown[reference]) == {"ssim", "psnr", "structure"}
    assert shown["do_nothing"]["psnr"] == pytest.approx(json.loads((toy_oracle / "manifest.json").read_text())
                                                        ["do_nothing"]["test"]["psnr"], abs=1e-3)
    assert result["oracle"]["game2movie"]["model"]["structure"] < 1
    assert cv2.imread(str(out.with_suffix(".png"))) is not None
    report = capsys.readouterr().out
    assert "at display resolution: run at 48x32" in report and "resized only" in report


def test_evaluate_refuses_display_sizes_on_synthetic_data(synthetic_faces, tiny_weights, capsys):
    code = evaluate.main(["--weights", str(tiny_weights), "--data", str(synthetic_faces), "--size", "640x360"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "not recorded footage" in err and len(err.splitlines()) == 1
    assert evaluate.main(["--data", str(synthetic_faces)]) == 2
    assert "name a run folder" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_on_recorded_footage_logs_display_scores(toy_oracle, tmp_path):
    run_dir = tmp_path / "run"
    args = ["frames", "--data", str(toy_oracle), "--image-size", "16", "--epochs", "1", "--batch-size", "8",
            "--g-features", "4", "--d-features", "4", "--limit", "16", "--run-dir", str(run_dir)]
    assert fit.main(args) == 0
    record = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("val_oracle_structure", "val_display_ssim", "val_display_psnr", "val_display_structure"):
        assert isinstance(record[key], float), key
    result = json.loads((run_dir / "eval.json").read_text())
    assert result["display"]["size"] == [640, 360] and result["display"]["pairs"] == 20
    assert (run_dir / "display_grid.png").is_file()
