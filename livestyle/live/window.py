"""The live app's window (PySide6): shows the pipeline's newest stylised frame scaled to the window,
with the HUD, the hotkeys, the overlap (feedback) warning and the global hotkeys.

The GUI thread never waits for capture or inference: the inference thread signals "a result is
ready" (a queued Qt signal, at most one pending), the slot takes the newest result from the
pipeline's one-slot box and schedules a paint; the paint turns the numpy BGR array into a QImage
that borrows the array's memory (the array is kept alive beside it) and records the frame's
end-to-end latency once it has been drawn.
"""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import QWidget

from livestyle.core.errors import LivestyleError
from livestyle.core.images import resize_bgr
from livestyle.core.logs import say
from livestyle.core.sizes import Rect, as_rect
from livestyle.live.capture import ScreenGeometry, intersect, logical_to_physical, physical_to_logical
from livestyle.live.hotkeys import GlobalHotkeys
from livestyle.live.pipeline import Pipeline, Styled
from livestyle.runtime.stabilizer import LIVE_PRESET, Stabilizer

VIEWS = ("stylised", "side", "blend")
HOTKEYS = {  # key (inside the window) → action; global hotkeys are Ctrl+Alt+<the same key>
    "P": "pause", "H": "hud", "S": "side", "B": "blend", "[": "blend_down", "]": "blend_up", "M": "model",
    "T": "steady", "F": "faces", "G": "grain", "Q": "quit", "Esc": "quit",
}
OVERLAP_WARNING = ("this window overlaps the captured area, so livestyle films its own output (feedback). "
                   "Fix: move this window to another monitor, or capture a --region or --window that leaves it out")


class Bridge(QObject):
    """Signals from worker threads into the GUI thread (queued connections)."""

    result = Signal()
    happened = Signal(str, str)  # (kind, message); not "event": that is QObject's event handler
    hotkey = Signal(str)


def screens() -> list[ScreenGeometry]:
    found = []
    for screen in QGuiApplication.screens():
        geometry = screen.geometry()
        found.append(ScreenGeometry(geometry.x(), geometry.y(), geometry.width(), geometry.height(),
                                    float(screen.devicePixelRatio())))
    return found


def qimage_from_bgr(array: np.ndarray) -> QImage:
    """A QImage that borrows the array's memory: keep the array alive as long as the image."""
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or not array.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous uint8 H×W×3 array, got {array.shape} {array.dtype}")
    height, width = array.shape[:2]
    return QImage(array.data, width, height, array.strides[0], QImage.Format.Format_BGR888)


def fit_rect(image: QSize, area: QRect) -> QRect:
    """The largest rectangle of the image's aspect ratio centred in `area`."""
    if image.width() <= 0 or image.height() <= 0:
        return area
    scale = min(area.width() / image.width(), area.height() / image.height())
    width, height = max(1, round(image.width() * scale)), max(1, round(image.height() * scale))
    return QRect(area.x() + (area.width() - width) // 2, area.y() + (area.height() - height) // 2, width, height)


class LiveWindow(QWidget):
    """mode "mirror": an ordinary resizable window. mode "overlay": frameless, always on top and
    click-through, placed over `capture_rect` (physical pixels, converted with the screen's dpr).

    excluded: the platform keeps this window out of screen capture (Windows display affinity, macOS
    sharing type); when False the window checks twice a second whether it overlaps the captured area
    and warns (HUD and console) with the fix.
    switch_model: optional callable returning (stylizer, label) for the next model; it runs on a
    worker thread and the pipeline swaps the stylizer in between frames.
    """

    closed = Signal()

    def __init__(self, pipeline: Pipeline, *, mode: str = "mirror", capture_rect: Rect | None = None,
                 model_label: str = "?", settings=None, hud: bool = True, blend: float = 0.5,
                 view: str = "stylised", excluded: bool = False, switch_model=None, log=None,
                 global_hotkeys: bool = True):
        super().__init__()
        self.pipeline = pipeline
        self.mode = mode
        self.capture_rect = capture_rect
        self.model_label = model_label
        self.settings = settings
        self.hud = hud
        self.blend = min(1.0, max(0.0, float(blend)))
        self.view = view if view in VIEWS else "stylised"
        self.excluded = excluded
        self.switch_model = switch_model
        self.log = log or say
        self.exit_reason: str | None = None
        self.exit_code = 0
        self.overlapping = False
        self.warnings: list[str] = []  # every distinct warning of the run, for --stats
        self.last_shown: Styled | None = None
        self.shown_array: np.ndarray | None = None  # the array the current QImage borrows
        self._image: QImage | None = None
        self._pending: Styled | None = None
        self._notify_pending = threading.Event()
        self._notice, self._notice_until = "", 0.0
        self._hud_text: list[str] = []
        self._hud_updated = 0.0
        self._switching = False
        self._closing = False
        stabilizer = pipeline.stabilizer
        self.steady_strength = stabilizer.strength if stabilizer is not None else 0.5  # what T turns on

        self.bridge = Bridge()
        self.bridge.result.connect(self._on_result)
        self.bridge.happened.connect(self._on_event)
        self.bridge.hotkey.connect(self.act)
        pipeline.on_result = self._notify
        pipeline.on_event = self.bridge.happened.emit
        pipeline.want_original = self.view != "stylised"

        self.key_actions = {"pause": self.toggle_pause, "hud": self.toggle_hud, "side": self.toggle_side,
                        "blend": self.toggle_blend, "blend_down": lambda: self.move_blend(-0.1),
                        "blend_up": lambda: self.move_blend(0.1), "model": self.next_model,
                        "steady": self.toggle_steady, "faces": self.toggle_faces, "grain": self.toggle_grain,
                        "quit": self.quit}
        self.shortcuts = []
        for key, action in HOTKEYS.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda action=action: self.act(action))
            self.shortcuts.append(shortcut)
        self.global_hotkeys = GlobalHotkeys(self.bridge.hotkey.emit) if global_hotkeys else None

        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(160, 90)
        if mode == "overlay":
            self.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
                                | Qt.WindowType.Tool | Qt.WindowType.WindowTransparentForInput)
            self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.update_title()

        self._overlap_timer = QTimer(self)
        self._overlap_timer.timeout.connect(self.check_overlap)
        self._hud_timer = QTimer(self)  # repaints the HUD while paused or when frames stop
        self._hud_timer.timeout.connect(self.update)
        self._hud_timer.start(250)

    # placement ----------------------------------------------------------------------------------
    def place(self, geometry=None, size: tuple[int, int] = (640, 360)) -> None:
        """Overlay: exactly over the captured area. Mirror: the saved geometry, else a free spot: another
        monitor, else beside the captured area, else centred (the overlap warning will say so)."""
        found = screens()
        if self.mode == "overlay" and self.capture_rect is not None:
            left, top, width, height = physical_to_logical(self.capture_rect, found)
            self.setGeometry(left, top, width, height)
            return
        if geometry is not None and self.restoreGeometry(geometry):
            return
        self.setGeometry(*mirror_placement(self.capture_rect, found, size))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.excluded and self.capture_rect is not None:
            self._overlap_timer.start(500)
            QTimer.singleShot(0, self.check_overlap)

    # pipeline → GUI -----------------------------------------------------------------------------
    def _notify(self) -> None:
        """Inference thread: one queued signal at a time; the slot always takes the newest result."""
        if not self._notify_pending.is_set():
            self._notify_pending.set()
            self.bridge.result.emit()

    def _on_result(self) -> None:
        self._notify_pending.clear()
        styled = self.pipeline.take()
        if styled is None:
            return
        if self._pending is not None:  # the previous result was never painted: it is dropped
            self.pipeline.stats.record_display_drop()
        self._pending = styled
        self.update()

    def _on_event(self, kind: str, message: str) -> None:
        if kind == "model":
            label, backend, size = message.split("|")
            self.model_label = label
            self.update_title(backend, size)
            self.notice(f"model: {label} on {backend}")
            self.log(f"livestyle: switched to {label} on {backend} at {size}")
            return
        if kind == "error":
            self.log(f"error: {message}")
            self.warnings.append(message)
            if self.exit_reason is None:
                self.exit_reason = "error"
                self.exit_code = 1
            QTimer.singleShot(0, self.close)
            return
        self.log(f"warning: {message}")
        if message not in self.warnings:
            self.warnings.append(message)
        self.notice(message, seconds=8)
        self.update_title()

    # actions ------------------------------------------------------------------------------------
    def act(self, action: str) -> None:
        handler = self.key_actions.get(action)
        if handler is not None:
            handler()

    def toggle_pause(self) -> None:
        self.pipeline.set_paused(not self.pipeline.paused)
        self.notice("paused" if self.pipeline.paused else "resumed")

    def toggle_hud(self) -> None:
        self.hud = not self.hud
        self.update()

    def set_view(self, view: str) -> None:
        self.view = view
        self.pipeline.want_original = view != "stylised"
        self.notice({"stylised": "stylised", "side": "side by side: original | stylised",
                     "blend": f"blend {self.blend:.0%} stylised ([ and ] move it)"}[view])

    def toggle_side(self) -> None:
        self.set_view("stylised" if self.view == "side" else "side")

    def toggle_blend(self) -> None:
        self.set_view("stylised" if self.view == "blend" else "blend")

    def move_blend(self, step: float) -> None:
        self.blend = round(min(1.0, max(0.0, self.blend + step)), 2)
        if self.view != "blend":
            self.set_view("blend")
        self.notice(f"blend {self.blend:.0%} stylised")

    def toggle_steady(self) -> None:
        """T: the temporal stabiliser on (at --stabilize's strength, else 0.5) or off, from the next frame."""
        if self.pipeline.stabilizer is not None:
            self.steady_strength = self.pipeline.stabilizer.strength
            self.pipeline.stabilizer = None
            self.notice("stabiliser off")
        else:
            self.pipeline.stabilizer = Stabilizer(self.steady_strength, preset=LIVE_PRESET)
            self.notice(f"stabiliser on ({self.steady_strength:g}): less flicker")
        self.update()

    def toggle_grain(self) -> None:
        """G: the model's film grain off or on, from the next frame."""
        if self.pipeline.grain is None:
            self.notice("no film grain: this model has none (a film look learnt from grainy footage has)"
                        if self.pipeline.grain_wanted else "no film grain: started with --no-grain")
            return
        self.pipeline.grain_on = not self.pipeline.grain_on
        self.notice("film grain on" if self.pipeline.grain_on else "film grain off")
        self.update()

    def toggle_faces(self) -> None:
        """F: faces mode's face stylising on or off (off shows the frames model's picture, or the game)."""
        stylizer = self.pipeline.stylizer
        if stylizer.faces_on is None:
            self.notice("not in faces mode: start with --faces")
            return
        stylizer.faces_on = not stylizer.faces_on
        self.notice("faces on" if stylizer.faces_on else "faces off (F turns them on)")
        self.update()

    def next_model(self) -> None:
        if self.switch_model is None:
            self.notice("no other model to switch to")
            return
        if self._switching:
            return
        self._switching = True
        self.notice("loading the next model…", seconds=30)

        def work():
            try:
                stylizer, label = self.switch_model()
            except LivestyleError as error:
                self.bridge.happened.emit("warning", f"model switch failed: {error}")
            except Exception as error:  # noqa: BLE001
                self.bridge.happened.emit("warning", f"model switch failed: {type(error).__name__}: {error}")
            else:
                self.pipeline.swap_stylizer(stylizer)
                size = f"{stylizer.size[0]}x{stylizer.size[1]}"
                self.bridge.happened.emit("model", f"{label}|{stylizer.name}|{size}")
            finally:
                self._switching = False

        threading.Thread(target=work, name="livestyle-model-switch", daemon=True).start()

    def quit(self, reason: str = "quit key") -> None:
        if self.exit_reason is None:
            self.exit_reason = reason
        self.close()

    # title, notices, overlap ----------------------------------------------------------------------
    def update_title(self, backend: str | None = None, size: str | None = None) -> None:
        stylizer = self.pipeline.stylizer
        backend = backend or self.pipeline.backend_name
        if size is None and stylizer.size:
            size = f"{stylizer.size[0]}x{stylizer.size[1]}"
        self.setWindowTitle(f"livestyle — {self.model_label} — {backend}" + (f" at {size}" if size else ""))

    def notice(self, text: str, seconds: float = 2.5) -> None:
        self._notice, self._notice_until = text, time.perf_counter() + seconds
        self.update()

    def physical_geometry(self) -> Rect:
        frame = self.frameGeometry()
        return logical_to_physical((frame.x(), frame.y(), frame.width(), frame.height()), screens())

    def check_overlap(self) -> bool:
        if self.excluded or not self.isVisible():
            return False
        area = self.pipeline.capture_rect or self.capture_rect
        overlapping = area is not None and intersect(self.physical_geometry(), as_rect(area)) is not None
        if overlapping and not self.overlapping:
            self.log(f"warning: {OVERLAP_WARNING}")
            if OVERLAP_WARNING not in self.warnings:
                self.warnings.append(OVERLAP_WARNING)
        self.overlapping = overlapping
        return overlapping

    def moveEvent(self, event) -> None:
        super().moveEvent(event)
        if self._overlap_timer.isActive():
            self.check_overlap()

    # painting -----------------------------------------------------------------------------------
    def compose(self, styled: Styled) -> np.ndarray:
        """The array to show for this result in the current view (stylised, side by side, blend)."""
        if self.view == "stylised" or styled.original is None:
            return styled.image
        original = styled.original
        if original.shape != styled.image.shape:
            original = resize_bgr(original, (styled.image.shape[1], styled.image.shape[0]))
        if self.view == "side":
            return np.ascontiguousarray(np.hstack([original, styled.image]))
        return cv2.addWeighted(original, 1.0 - self.blend, styled.image, self.blend, 0.0)

    def paintEvent(self, event) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            array = np.ascontiguousarray(self.compose(pending))
            self._image = qimage_from_bgr(array)
            self.shown_array = array  # keeps the QImage's memory alive
            self.last_shown = pending
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(fit_rect(self._image.size(), self.rect()), self._image)
        self._paint_text(painter)
        painter.end()
        if pending is not None:
            self.pipeline.mark_shown(pending)

    def hud_lines(self) -> list[str]:
        now = time.perf_counter()
        if now - self._hud_updated < 0.25 and self._hud_text:
            return self._hud_text
        s = self.pipeline.snapshot()

        def ms(value):
            return "—" if value is None else f"{value:.0f}"

        size = self.pipeline.stylizer.size
        lines = [f"capture {s['capture_fps']:.1f} fps   inference {ms(s['inference_ms'])} ms   "
                 f"display {s['display_fps']:.1f} fps",
                 f"latency {ms(s['latency_ms'])} ms (p95 {ms(s['latency_p95_ms'])})   dropped "
                 f"{s['dropped_capture']} capture→inference, {s['dropped_display']} inference→display",
                 f"{s['backend']}" + (f" at {size[0]}x{size[1]}" if size else "") + f"   {self.model_label}   "
                 + (f"stabiliser {self.pipeline.stabilizer.strength:g}" if self.pipeline.stabilizer is not None
                    else "stabiliser off")]
        faces = self.pipeline.stylizer.status()
        if faces is not None:
            lines.append(f"faces {faces['faces_in_view']} in view, {faces['faces_stylised']} stylised   detector "
                         f"{ms(faces['detector_ms'])} ms   face crops {ms(faces['faces_ms'])} ms"
                         + ("" if faces["faces_on"] else "   faces OFF (F)")
                         + (f"   {faces['faces_error']}" if faces["faces_error"] else ""))
        if self.view == "side":
            lines.append("original | stylised")
        elif self.view == "blend":
            lines.append(f"blend {self.blend:.0%} stylised")
        self._hud_text, self._hud_updated = lines, now
        return lines

    def _paint_text(self, painter: QPainter) -> None:
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, min(11.0, self.width() / 70)))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        line_height = metrics.height() + 2
        lines = list(self.hud_lines()) if self.hud else []
        banners = []
        if self.pipeline.paused:
            banners.append("PAUSED (P resumes)")
        if self.overlapping:
            banners.append("FEEDBACK: " + OVERLAP_WARNING)
        if self._notice and time.perf_counter() < self._notice_until:
            banners.append(self._notice)
        if lines:
            width = max(metrics.horizontalAdvance(line) for line in lines) + 16
            painter.fillRect(QRect(6, 6, width, line_height * len(lines) + 8), QColor(0, 0, 0, 160))
            painter.setPen(QColor(235, 235, 235))
            for row, line in enumerate(lines):
                painter.drawText(14, 10 + metrics.ascent() + row * line_height, line)
        rows = []  # (text, alarm) with long banners wrapped at word boundaries
        for banner in banners:
            alarm = banner.startswith(("FEEDBACK", "PAUSED"))
            rows += [(line, alarm) for line in wrap(banner, metrics, self.width() - 28)]
        y = self.height() - 8 - line_height * len(rows)
        for text, alarm in rows:
            painter.fillRect(QRect(6, y - 2, metrics.horizontalAdvance(text) + 16, line_height + 2),
                             QColor(120, 0, 0, 190) if alarm else QColor(0, 0, 0, 170))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(14, y + metrics.ascent(), text)
            y += line_height

    # closing ------------------------------------------------------------------------------------
    def save_settings(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue("mode", self.mode)
        self.settings.setValue("hud", bool(self.hud))
        self.settings.setValue("blend", float(self.blend))
        self.settings.setValue("view", self.view)
        if self.mode == "mirror":
            self.settings.setValue("geometry", self.saveGeometry())
        self.settings.sync()

    def closeEvent(self, event) -> None:
        if not self._closing:
            self._closing = True
            if self.exit_reason is None:
                self.exit_reason = "window closed"
            self._overlap_timer.stop()
            self._hud_timer.stop()
            self.save_settings()
            if self.global_hotkeys is not None:
                self.global_hotkeys.stop()
            self.pipeline.stop()
            self.closed.emit()
        super().closeEvent(event)


def wrap(text: str, metrics, width: int, max_lines: int = 3) -> list[str]:
    """Word-wrap `text` to `width` pixels (at most max_lines lines, the last one elided)."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and metrics.horizontalAdvance(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [" ".join(lines[max_lines - 1:])]
    return [metrics.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in lines]


def mirror_placement(capture: Rect | None, found: list[ScreenGeometry], size: tuple[int, int]) -> Rect:
    """Where a new mirror window goes (logical pixels): the largest window of the picture's aspect that fits
    on a monitor without the captured area, else beside the captured area, else centred on the first screen."""
    aspect = size[0] / size[1] if size[1] else 16 / 9
    if not found:
        return 100, 100, size[0], size[1]

    def fitted(area: Rect, cap: float = 0.6) -> Rect | None:
        width = min(area[2] * cap, 1280)
        height = width / aspect
        if height > area[3] * cap:
            height = area[3] * cap
            width = height * aspect
        if width < 160 or height < 90:
            return None
        width, height = round(width), round(height)
        return area[0] + (area[2] - width) // 2, area[1] + (area[3] - height) // 2, width, height

    if capture is None:
        return fitted(found[0].logical) or (found[0].left, found[0].top, size[0], size[1])
    for screen in found:
        if intersect(screen.physical, as_rect(capture)) is None:
            spot = fitted(screen.logical, 0.8)
            if spot:
                return spot
    screen = next((s for s in found if intersect(s.physical, as_rect(capture))), found[0])
    logical = physical_to_logical(as_rect(capture), found)
    sl, st, sw, sh = screen.logical
    left, top, width, height = logical
    margin = 8
    free = [  # the strips of the screen beside the captured area
        (left + width + margin, st, sl + sw - (left + width + margin), sh),
        (sl, st, left - margin - sl, sh),
        (sl, top + height + margin, sw, st + sh - (top + height + margin)),
        (sl, st, sw, top - margin - st),
    ]
    best = None
    for strip in free:
        if strip[2] <= 0 or strip[3] <= 0:
            continue
        spot = fitted(strip, 0.95)
        if spot and (best is None or spot[2] * spot[3] > best[2] * best[3]):
            best = spot
    return best or fitted(screen.logical) or (sl, st, size[0], size[1])
