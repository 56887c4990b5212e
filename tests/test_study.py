import json

import pytest
from conftest import TINY

import training.study as study


@pytest.mark.slow
def test_study_runs_configurations_tabulates_and_reuses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the synthetic set is cached under ./data, runs under ./runs
    monkeypatch.setattr(study, "BUDGET", ["--quick", *TINY, "--limit", "8", "--epochs", "1", "--seed", "0"])
    argv = ["--kinds", "faces", "--only", "report", "residual-cg", "colour-transfer", "--no-write"]
    assert study.main(argv) == 0
    output = capsys.readouterr().out
    assert "| *do nothing* |" in output and "`report`" in output and "`residual-cg`" in output
    assert "| `colour-transfer` | not learnt" in output
    record = json.loads((tmp_path / "runs" / "study" / "faces-residual-cg" / "study.json").read_text())
    assert record["eval"]["oracle"]["game2movie"]["model"]["ssim"] > 0
    assert study.main(argv) == 0  # a second run reuses what is finished
    assert capsys.readouterr().out.count("reused") == 3


def _record(kind, name, ssim, psnr, nothing=(0.5, 15.0)):
    scores = {"model": {"ssim": ssim, "psnr": psnr}, "do_nothing": {"ssim": nothing[0], "psnr": nothing[1]}}
    return {"kind": kind, "name": name, "eval": {"oracle": {"game2movie": scores, "movie2game": scores}}}


def test_choice_must_beat_report_in_both_metrics_on_every_oracle():
    records = [_record("faces", "report", 0.1, 10.0), _record("frames", "report", 0.4, 19.0),
               # best SSIM, but below the report's PSNR on frames: not eligible
               _record("faces", "residual-cg", 0.6, 16.0), _record("frames", "residual-cg", 0.6, 17.0),
               _record("faces", "cycle-lsgan-resize", 0.55, 16.5), _record("frames", "cycle-lsgan-resize", 0.59, 20.0)]
    kinds = ["faces", "frames"]
    assert study.choose(records, kinds) == "cycle-lsgan-resize"
    assert study.ranked(records, kinds)[0] == "residual-cg"
    assert study.beats(records, "cycle-lsgan-resize", kinds, "nothing")
    records[4] = _record("faces", "cycle-lsgan-resize", 0.45, 16.5)  # SSIM below doing nothing (0.5)
    assert not study.beats(records, "cycle-lsgan-resize", kinds, "nothing")
    text = study.table(records, kinds)
    assert "| `cycle-lsgan-resize` |" in text and "| yes |" in text


def test_table_shows_structure_and_display_scores_of_real_footage():
    def record(kind, name, ssim, display):
        scores = {"model": {"ssim": ssim, "psnr": 15.0, "structure": 0.61},
                  "do_nothing": {"ssim": 0.5, "psnr": 15.0, "structure": 0.97}}
        result = {"oracle": {"game2movie": scores, "movie2game": scores}}
        if display:
            result["display"] = {"model": {"ssim": 0.44, "psnr": 13.5, "structure": 0.52},
                                 "do_nothing": {"ssim": 0.75, "psnr": 19.4, "structure": 0.96}}
        return {"kind": kind, "name": name, "eval": result}

    kinds = ["frames", "data/real-toy-v1"]
    records = [record(k, n, 0.4, k != "frames") for n in ("report", "resize-cg-id") for k in kinds]
    text = study.table(records, kinds)
    assert "| real-toy-v1 game→movie at display size |" in text.splitlines()[0]
    assert "0.750 / 19.40 / 0.960" in text  # doing nothing at display size
    assert "0.440 / 13.50 / 0.520" in text and "0.400 / 15.00 / 0.610" in text
    assert study.fit_target("data/real-toy-v1") == ["frames", "--data", "data/real-toy-v1"]


def _shown(kind, name, model, nothing=(0.70, 20.0, 0.96)):
    """A record with display scores (SSIM, PSNR, structure) on a real-footage oracle."""
    scores = {"ssim": model[0], "psnr": model[1], "structure": model[2]}
    shown = {"model": scores, "do_nothing": dict(zip(("ssim", "psnr", "structure"), nothing, strict=False))}
    record = _record(kind, name, model[0], model[1])
    record["eval"]["display"] = shown
    return record


def test_default_rule_needs_margins_structure_and_the_colour_transfer_baseline():
    kinds = ["real-a", "real-b"]
    records = [_shown("real-a", "colour-transfer", (0.65, 18.0, 0.95)),
               _shown("real-b", "colour-transfer", (0.75, 24.0, 0.95)),
               # best SSIM on both, but loses structure on real-a: out
               _shown("real-a", "resize-cg-id", (0.80, 22.0, 0.80)),
               _shown("real-b", "resize-cg-id", (0.80, 25.0, 0.96)),
               # meets everything
               _shown("real-a", "pyramid", (0.72, 20.6, 0.96)), _shown("real-b", "pyramid", (0.76, 24.5, 0.96)),
               # below doing nothing + 0.5 dB on real-a
               _shown("real-a", "pyramid-adv", (0.75, 20.3, 0.96)), _shown("real-b", "pyramid-adv", (0.78, 24.6, 0.96))]
    name, qualified, margins = study.choose_default(records, kinds)
    assert (name, qualified) == ("pyramid", True)
    assert set(margins) == {"real-a", "real-b"} and min(margins["real-a"].values()) >= 0
    assert "Default by the rule" in study.describe_choice(name, qualified, margins)
    # Without the qualifying one, the closest is named with what it lacks, and the baseline is never chosen.
    records = [r for r in records if r["name"] != "pyramid"]
    name, qualified, margins = study.choose_default(records, kinds)
    assert (name, qualified) == ("pyramid-adv", False)
    text = study.describe_choice(name, qualified, margins)
    assert "Closest: `pyramid-adv`" in text and "real-a: psnr -0.200" in text


def test_colour_transfer_moves_the_lab_statistics():
    import torch

    from training.colour_transfer import ColourTransfer, lab_statistics
    generator = torch.Generator().manual_seed(0)
    game = (torch.rand(4, 24, 32, 3, generator=generator) * 160).to(torch.uint8)
    movie = (torch.rand(4, 24, 32, 3, generator=generator) * 100 + 120).to(torch.uint8)
    transfer = ColourTransfer(lab_statistics(game), lab_statistics(movie))
    moved = transfer(game.permute(0, 3, 1, 2).float().div(127.5).sub(1))
    moved_uint8 = moved.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    mean, std = lab_statistics(moved_uint8)
    target_mean, target_std = lab_statistics(movie)
    assert torch.allclose(mean, target_mean, atol=1.5) and torch.allclose(std, target_std, rtol=0.1, atol=1.0)
    same = ColourTransfer(lab_statistics(game), lab_statistics(game))
    x = game.permute(0, 3, 1, 2).float().div(127.5).sub(1)
    assert (same(x) - x).abs().max() < 2 / 255


def test_a_run_on_its_own_data_is_compared_with_its_own_doing_nothing():
    # A --crop configuration on synthetic data trains and scores on larger renders: another do-nothing.
    records = [_record("frames", "pyramid-l2", 0.65, 18.4, nothing=(0.627, 17.18)),
               _record("frames", "pyramid-l2-crop-dlow", 0.72, 18.3, nothing=(0.717, 18.17))]
    assert study.beats(records, "pyramid-l2", ["frames"], "nothing")
    assert study.beats(records, "pyramid-l2-crop-dlow", ["frames"], "nothing")
    records[1] = _record("frames", "pyramid-l2-crop-dlow", 0.70, 18.3, nothing=(0.717, 18.17))
    assert not study.beats(records, "pyramid-l2-crop-dlow", ["frames"], "nothing")  # 0.70 beats 0.627, not 0.717
    assert "(its own test images: nothing 0.717 / 18.17)" in study.table(records, ["frames"])


def test_issue_25_floors_are_checked_per_oracle_as_shown():
    def record(name, kind, ssim, psnr, structure=0.97):
        display = {"model": {"ssim": ssim, "psnr": psnr, "structure": structure},
                   "do_nothing": {"ssim": 0.80, "psnr": 20.0, "structure": 1.0}}
        scores = {"game2movie": {"model": {"ssim": ssim, "psnr": psnr}}}
        return {"name": name, "kind": kind, "eval": {"oracle": scores, "display": display}, "seconds": 1.0}

    other, same = "data/real-supertux-teal-orange-other-levels-v1", "data/real-neverball-teal-orange-same-levels-v1"
    assert study.floor_of(other) == (0.03, 1.5) and study.floor_of(same) == (0.02, 2.0)
    assert study.floor_of("faces") is None and study.floor_of("data/mine") is None
    records = [record("look-stage0", other, 0.84, 21.6), record("look-stage0", same, 0.83, 22.1),
               record("look-stage01", other, 0.84, 21.4), record("look-stage01", same, 0.83, 22.1, structure=0.9)]
    text = study.floors_table(records, [other, same])
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `")}
    assert rows["`look-stage0`"].rstrip().endswith("| yes |")
    assert rows["`look-stage01`"].count("✗") == 2 and rows["`look-stage01`"].rstrip().endswith("| no |")
    assert study.choose_by_floors(records, [other, same]) == ("look-stage0", True)
    # None meets the floors: the least shortfall wins; a kept-back look's oracle takes no part in the choice.
    short = [record("look-stage0", other, 0.81, 21.0), record("look-stage01", other, 0.84, 21.2),
             record("look-stage0", same, 0.83, 22.1), record("look-stage01", same, 0.83, 22.1),
             record("look-stage0", "data/real-neverball-cross-processed-other-levels-v1", 0.99, 40.0),
             record("look-stage01", "data/real-neverball-cross-processed-other-levels-v1", 0.5, 10.0)]
    kinds = [other, same, "data/real-neverball-cross-processed-other-levels-v1"]
    assert study.choose_by_floors(short, kinds) == ("look-stage01", False)
