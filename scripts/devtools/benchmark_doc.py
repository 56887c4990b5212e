"""Shared by the scripts: describe the machine and replace one section of the benchmark pages
(docs/benchmarks/TOPIC.md, atomically), so every script owns its own block of its page; and what the scripts
declare of the pages and of their scratch folder (livestyle.core.declared).

    python scripts/devtools/benchmark_doc.py SECTION FILE   — file a table written elsewhere (training.study
                                                              writes its tables to runs/study/) into that section
"""
from __future__ import annotations

import argparse
import contextlib
import re
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from livestyle.core.declared import Declaration, Output
from livestyle.core.errors import LivestyleError
from livestyle.core.files import write_text
from livestyle.runtime.machine import describe
from livestyle.runtime.timing import default_cache_path

DOCS = Path(__file__).resolve().parents[2] / "docs"  # scripts/devtools/ -> the checkout
INDEX = DOCS / "benchmarks.md"  # the current number of each measure, with links to the topic pages
PAGES = DOCS / "benchmarks"
HEADER = ("# {title}\n\nPart of the [benchmark pages](../benchmarks.md); every number came from a run of the "
          "script or command named in its section, with machine, versions and date.\n")
# Where a section that is on no page yet goes, by its name's start (first match).
PAGE_OF = (
    ("benchmark_train", "training"), ("benchmark_prepare", "training"), ("gpu-training", "training"),
    ("recipe-study", "quality"), ("quality-", "quality"), ("default-study", "quality"), ("demo-model", "quality"),
    ("pyramid-notes", "quality"), ("benchmark_inference", "inference"), ("benchmark_pyramid", "inference"),
    ("gpu-", "inference"), ("benchmark_live-faces", "faces"), ("faces-", "faces"), ("demo-faces", "faces"),
    ("benchmark_live", "live"), ("live-", "live"), ("benchmark_video", "video"), ("readme-commands", "project"),
    ("test-suite", "project"), ("look-", "inference"))
TITLES = {"training": "Training and data speed", "quality": "Quality: recipes, the default, the demo models",
          "inference": "Inference speed and GPU checks", "live": "The live app: speed, latency, memory",
          "video": "Offline video: speed and steadiness", "faces": "Faces mode: detector, speed, pasting",
          "project": "The README's commands and the test suite", "other": "Other measurements"}


def machine() -> str:
    return describe()


def _marker(name: str) -> re.Pattern:
    return re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)


def page_for(name: str) -> Path:
    """The topic page that holds the section (or, for a new one, should)."""
    for page in sorted(PAGES.glob("*.md")):
        if _marker(name).search(page.read_text()):
            return page
    topic = next((page for prefix, page in PAGE_OF if name.startswith(prefix)), "other")
    return PAGES / f"{topic}.md"


def update_section(name: str, body: str) -> Path:
    """Replace (or append) the block between <!-- name --> markers on its topic page (atomically);
    the index's table of current numbers is the benchmarks' author's to update."""
    page = page_for(name)
    PAGES.mkdir(parents=True, exist_ok=True)
    text = page.read_text() if page.exists() else HEADER.format(title=TITLES[page.stem])
    block = f"<!-- {name} -->\n{body.strip()}\n<!-- /{name} -->"
    pattern = _marker(name)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n"
    write_text(page, text)
    return page


def page_output(section: str) -> Output:
    """The page a section is filed into, as a script declares it: the benchmark pages are the scripts' own,
    each section replaced by design."""
    return Output(f"the benchmark page of section {section}", page_for(section), owned=True)


def scratch_root() -> Path:
    """Where the scripts keep their throw-away files (clips, encoded trials, a game's HOME): scratch/ in
    livestyle's cache folder ($LIVESTYLE_CACHE_DIR, else ~/.cache/livestyle), private to the user and declared,
    so a script writes nothing outside its declaration."""
    return default_cache_path().parent / "scratch"


def scratch_output() -> Output:
    return Output("the scratch folder", scratch_root(), folder=True, owned=True)


@contextlib.contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new private folder in the scratch folder (tempfile.TemporaryDirectory), removed with what is in it
    (as far as it can be: a file a killed game left open must not fail a finished measurement)."""
    root = scratch_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=root, ignore_cleanup_errors=True) as folder:
        yield Path(folder)


def declared_main(argv, build_parser, declare, work) -> int:
    """A script's main(): its flags, its declaration checked before any work, then the work; a LivestyleError
    (a refused output, a page that could not be written) is one `error:` line and its exit code (2)."""
    args = build_parser().parse_args(argv)
    try:
        declare(args).check()
        return work(args)
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


USAGE = "usage: python scripts/devtools/benchmark_doc.py SECTION FILE  (SECTION: lowercase letters, digits, -)"


def parse_args(argv: list[str]) -> argparse.Namespace | None:
    """SECTION and FILE from the command line; None when it is not that (main prints the usage)."""
    if len(argv) != 2 or not re.fullmatch(r"[a-z0-9-]+", argv[0]):
        return None
    return argparse.Namespace(section=argv[0], source=Path(argv[1]))


def declare(args) -> Declaration:
    """Filing a table reads FILE and replaces its section on the topic page."""
    return Declaration("benchmark_doc", {"FILE": args.source}, (page_output(args.section),))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args is None:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        declare(args).check()
        try:
            body = args.source.read_text()
        except OSError as error:
            print(f"error: cannot read {args.source}: {error.strerror}", file=sys.stderr)
            return 1
        print(f"wrote section {args.section} of {update_section(args.section, body)}")
    except LivestyleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
