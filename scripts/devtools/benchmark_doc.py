"""Shared by the benchmark scripts: describe the machine and replace one section of docs/benchmarks.md
(atomically), so every script owns its own block of the file.

    python scripts/devtools/benchmark_doc.py SECTION FILE   — file a table written elsewhere (training.study
                                                              writes its tables to runs/study/) into that section
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from livestyle.core.files import write_text
from livestyle.runtime.machine import describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"  # scripts/devtools/ -> the checkout
HEADER = "# Benchmarks\n\nEvery number here came from a run of the script named in its section.\n"


def machine() -> str:
    return describe()


def update_section(name: str, body: str) -> Path:
    """Replace (or append) the block between <!-- name --> markers in docs/benchmarks.md."""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    block = f"<!-- {name} -->\n{body.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n"
    write_text(DOC, text)
    return DOC


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not re.fullmatch(r"[a-z0-9-]+", argv[0]):
        print("usage: python scripts/devtools/benchmark_doc.py SECTION FILE  (SECTION: lowercase letters, digits, -)",
              file=sys.stderr)
        return 2
    section, source = argv[0], Path(argv[1])
    try:
        body = source.read_text()
    except OSError as error:
        print(f"error: cannot read {source}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"wrote section {section} of {update_section(section, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
