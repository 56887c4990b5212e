import json

from conftest import TINY
import training.study as study


def test_study_runs_configurations_tabulates_and_reuses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the synthetic set is cached under ./data, runs under ./runs
    monkeypatch.setattr(study, "BUDGET", ["--quick", *TINY, "--limit", "8", "--epochs", "1", "--seed", "0"])
    argv = ["--kinds", "faces", "--only", "report", "residual-cg", "--no-write"]
    assert study.main(argv) == 0
    output = capsys.readouterr().out
    assert "| *do nothing* |" in output and "`report`" in output and "`residual-cg`" in output
    record = json.loads((tmp_path / "runs" / "study" / "faces-residual-cg" / "study.json").read_text())
    assert record["eval"]["oracle"]["game2movie"]["model"]["ssim"] > 0
    assert study.main(argv) == 0  # a second run reuses what is finished
    assert capsys.readouterr().out.count("reused") == 2


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
