"""livestyle: make a running game look like a film, live."""

__version__ = "0.1.0"
