"""The benchmark pages: each section on its topic page, rewritten in place, a new one on the page its name
says; study tables filed in from a file."""
from devtools import benchmark_doc


def test_sections_go_to_their_topic_page(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark_doc, "PAGES", tmp_path)
    (tmp_path / "live.md").write_text("# Live\n\n<!-- benchmark_live-x -->\nold\n<!-- /benchmark_live-x -->\n")
    assert benchmark_doc.update_section("benchmark_live-x", "## new\n") == tmp_path / "live.md"
    assert "## new" in (tmp_path / "live.md").read_text() and "old" not in (tmp_path / "live.md").read_text()
    assert benchmark_doc.update_section("benchmark_live-faces", "## faces") == tmp_path / "faces.md"
    assert benchmark_doc.update_section("quality-baseline", "## q") == tmp_path / "quality.md"
    assert benchmark_doc.update_section("something-new", "## n") == tmp_path / "other.md"
    assert (tmp_path / "faces.md").read_text().startswith("# Faces mode")


def test_a_table_written_elsewhere_is_filed_in(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(benchmark_doc, "PAGES", tmp_path)
    table = tmp_path / "recipe-study.md"
    table.write_text("## Recipe study\n\n| a |\n")
    assert benchmark_doc.main(["recipe-study", str(table)]) == 0
    assert "| a |" in (tmp_path / "quality.md").read_text() and "wrote section recipe-study" in capsys.readouterr().out
    assert benchmark_doc.main(["Bad Name", str(table)]) == 2
    assert benchmark_doc.main(["recipe-study", str(tmp_path / "missing.md")]) == 1
