"""Built engines: their sidecars, finding them, and building them (scripts/build_engine.py)."""
