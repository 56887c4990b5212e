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
