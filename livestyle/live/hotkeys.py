"""Global hotkeys (Ctrl+Alt+<key> anywhere on the desktop) through pynput, when it is importable."""
from __future__ import annotations

GLOBAL_HOTKEYS = {"<ctrl>+<alt>+p": "pause", "<ctrl>+<alt>+h": "hud", "<ctrl>+<alt>+s": "side",
                  "<ctrl>+<alt>+b": "blend", "<ctrl>+<alt>+[": "blend_down", "<ctrl>+<alt>+]": "blend_up",
                  "<ctrl>+<alt>+m": "model", "<ctrl>+<alt>+t": "steady", "<ctrl>+<alt>+f": "faces",
                  "<ctrl>+<alt>+g": "grain", "<ctrl>+<alt>+q": "quit"}


class GlobalHotkeys:
    """Ctrl+Alt+<key> anywhere on the desktop, via pynput when it is importable (optional)."""

    def __init__(self, emit):
        self.listener = None
        self.note = ""
        try:
            from pynput import keyboard
        except Exception as error:  # noqa: BLE001 — not installed, or no X display for it
            reason = "not installed" if isinstance(error, ModuleNotFoundError) else f"unavailable ({error})"
            self.note = (f"global hotkeys off: pynput {reason} (pip install pynput for Ctrl+Alt+P/H/S/B/M/T/F/G/Q); "
                         f"the keys work while the livestyle window has focus")
            return
        try:
            self.listener = keyboard.GlobalHotKeys({combo: (lambda action=action: emit(action))
                                                    for combo, action in GLOBAL_HOTKEYS.items()})
            self.listener.daemon = True
            self.listener.start()
        except Exception as error:  # noqa: BLE001
            self.listener = None
            self.note = f"global hotkeys off: pynput could not start ({error})"
            return
        self.note = "global hotkeys on: " + ", ".join(f"{combo.replace('<ctrl>', 'Ctrl').replace('<alt>', 'Alt')} "
                                                      f"{action}" for combo, action in GLOBAL_HOTKEYS.items())

    def stop(self) -> None:
        if self.listener is not None:
            try:
                self.listener.stop()
            except Exception:  # noqa: BLE001
                pass
            self.listener = None
