"""livestyle: make a running game look like a film, live.

    from livestyle import Stylizer
    film = Stylizer("runs/<run>/game2movie.safetensors")(frame)
"""

from livestyle.core import __version__ as __version__

__all__ = ["Stylizer"]


def __getattr__(name: str):
    # Stylizer pulls in torch, OpenCV and the backends: imported on first use, so that `import
    # livestyle` (all that livestyle.core.checks or livestyle.core.files need, as training's do) stays light.
    if name == "Stylizer":
        from livestyle.runtime.stylizer import Stylizer

        return Stylizer
    raise AttributeError(f"module 'livestyle' has no attribute {name!r}")
