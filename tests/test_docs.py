"""The README is a front door (at most 12 KB, its two commands first) and every link in the docs leads
somewhere."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#]+)(?:#[^)]*)?\)")


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def test_readme_is_a_front_door():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) <= 12 * 1024
    first_block = text.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    install = 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m training.fit faces --quick'
    assert first_block == [install, "python -m pytest -q"]


def test_every_docs_page_is_linked_and_every_link_resolves():
    linked, broken = set(), []
    for page in markdown_files():
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            resolved = (page.parent / target).resolve()
            if not resolved.exists():
                broken.append(f"{page.relative_to(REPO)} → {target}")
            linked.add(resolved)
    assert not broken, broken
    unlinked = [str(p.relative_to(REPO)) for p in markdown_files()[1:] if p.resolve() not in linked]
    assert not unlinked, unlinked
