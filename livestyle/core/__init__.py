"""The bottom layer: errors, checks of what is read, atomic writes, sizes, images, logging; torch-free."""
from pathlib import Path

__version__ = "0.1.0"
ASSETS = Path(__file__).resolve().parents[1] / "assets"  # the files that ship inside the wheel
