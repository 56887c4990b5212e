"""Offline video stylisation: python -m livestyle.video IN OUT (see its --help), and its flicker metric,
python -m livestyle.video.metrics IN OUT.

    from livestyle.video import stylize_video
"""
from livestyle.video.job import stylize_video

__all__ = ["stylize_video"]
