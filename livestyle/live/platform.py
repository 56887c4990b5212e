"""Platform quirks of the live window: keeping it out of screen capture where the OS allows it."""
from __future__ import annotations

import ctypes
import platform
import sys


def exclude_from_capture(window, log) -> bool:
    """Keep our own window out of screen capture where the platform allows it; True when done."""
    system = platform.system()
    if sys.platform == "win32":  # platform.system() == "Windows", in the form type checkers follow
        try:
            WDA_EXCLUDEFROMCAPTURE = 0x11
            if ctypes.windll.user32.SetWindowDisplayAffinity(int(window.winId()), WDA_EXCLUDEFROMCAPTURE):
                return True
            log("warning: SetWindowDisplayAffinity(WDA_EXCLUDEFROMCAPTURE) failed (needs Windows 10 2004 or "
                "newer); keep the livestyle window off the captured area")
        except Exception as error:  # noqa: BLE001
            log(f"warning: could not exclude the window from capture ({error})")
        return False
    if system == "Darwin":
        try:
            import objc

            view = objc.objc_object(c_void_p=int(window.winId()))
            view.window().setSharingType_(0)  # NSWindowSharingNone
            return True
        except Exception as error:  # noqa: BLE001
            log(f"warning: cannot keep the window out of screen capture on macOS without pyobjc "
                f"(pip install pyobjc-framework-Cocoa): {error}; keep it off the captured area")
        return False
    return False  # X11: no way to exclude a window; the window warns when it overlaps the captured area


def can_exclude_from_capture() -> tuple[bool, str]:
    system = platform.system()
    if system == "Windows":
        return True, ""
    if system == "Darwin":
        try:
            import objc  # noqa: F401

            return True, ""
        except Exception:  # noqa: BLE001
            return False, "on macOS the overlay needs pyobjc to keep itself out of capture (pip install " \
                          "pyobjc-framework-Cocoa)"
    return False, ("on X11 a window cannot be kept out of screen capture, so an overlay over the captured area would "
                   "film itself (feedback). Use --mode mirror and put the livestyle window on another monitor")
