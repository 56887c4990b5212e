"""Shared by the benchmark scripts and training.study: describe the machine and replace one section of
docs/benchmarks.md (atomically), so every script owns its own block of the file."""
from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

import torch

from livestyle.files import write_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"  # livestyle/devtools/ -> the checkout
HEADER = "# Benchmarks\n\nEvery number here came from a run of the script named in its section.\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__}, Python {platform.python_version()}"
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        major, minor = torch.cuda.get_device_capability()
        text += f", GPU {name} (sm_{major}{minor}), CUDA {torch.version.cuda}"
    else:
        text += ", no GPU"
    return f"{text}; {date.today().isoformat()}"


def update_section(name: str, body: str) -> Path:
    """Replace (or append) the block between <!-- name --> markers in docs/benchmarks.md."""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    block = f"<!-- {name} -->\n{body.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n"
    write_text(DOC, text)
    return DOC
