"""The live app: the only package that imports PySide6 (window, capture, pipeline, hotkeys)."""
