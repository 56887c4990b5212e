"""livestyle: make a running game look like a film, live.

    from livestyle import Stylizer
    film = Stylizer("runs/<run>/game2movie.safetensors")(frame)
"""

__version__ = "0.1.0"
__all__ = ["Stylizer"]


def __getattr__(name: str):
    # Stylizer pulls in torch, OpenCV and the backends: imported on first use, so that `import
    # livestyle` (all that livestyle.checks or livestyle.files need, as training's do) stays light.
    if name == "Stylizer":
        from .stylizer import Stylizer

        return Stylizer
    raise AttributeError(f"module 'livestyle' has no attribute {name!r}")
