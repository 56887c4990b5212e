"""Every size livestyle reads: WIDTHxHEIGHT, regions, and the sides a network takes; one grammar, one bound."""
from __future__ import annotations

import math
import re

from livestyle.core.errors import LivestyleError

Rect = tuple[int, int, int, int]  # left, top, width, height
MAX_SIDE = 8192          # pixels, any image or inference side (8K is 7680)
SIZE_MULTIPLE = 8        # the generator halves the image three times, so its sides are multiples of 8
MIN_SIDE = 16            # ... and at least 16: the deepest level's reflect padding needs 2 pixels there


def smallest_side(multiple: int = SIZE_MULTIPLE) -> int:
    """The smallest side a network of this size multiple takes: the first multiple of it ≥ MIN_SIDE."""
    return -(-MIN_SIDE // multiple) * multiple


def side_fits(value: int, multiple: int = SIZE_MULTIPLE) -> bool:
    """The size rule: a multiple of `multiple`, at least smallest_side(multiple), at most MAX_SIDE."""
    return smallest_side(multiple) <= value <= MAX_SIDE and value % multiple == 0


def nearest_side(value: float, multiple: int = SIZE_MULTIPLE) -> int:
    """The side nearest to `value` that the network takes (halves round up: 180 → 184, as 16:9 sizes go)."""
    return max(smallest_side(multiple), math.floor(value / multiple + 0.5) * multiple)


def check_side(value: int, what: str, *, multiple: int = SIZE_MULTIPLE, low: int | None = None) -> int:
    """A training or inference side: a multiple of `multiple`, within low (default: the smallest
    side the rule allows)..MAX_SIDE."""
    low = smallest_side(multiple) if low is None else low
    if value < low or not side_fits(value, multiple):
        raise LivestyleError(f"{what} {value}: use a multiple of {multiple} from {low} to {MAX_SIDE} (e.g. 128)")
    return value


DEFAULT_SIZE = (640, 360)  # width × height; 16:9, both divisible by 8 (360 = 45 × 8)


def format_size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def validate_size(size: tuple[int, int] | list[int], what: str = "size",
                  multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """Inference sizes are width × height, each a multiple of `multiple` (the weights' size_multiple:
    8 for three stride-2 steps, 1 for a pyramid model, which pads), ≥ 16 (the deepest level's
    reflect padding needs 2 pixels) and ≤ MAX_SIDE (a typo must not allocate)."""
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError, OverflowError):
        raise LivestyleError(f"{what} {size!r}: give whole numbers WIDTHxHEIGHT, e.g. 640x360") from None
    if width > MAX_SIDE or height > MAX_SIDE:
        raise LivestyleError(f"{what} {width}x{height}: width and height must be at most {MAX_SIDE} "
                             f"(8K is 7680x4320); e.g. 640x360")
    if not (side_fits(width, multiple) and side_fits(height, multiple)):
        nearest = (nearest_side(width, multiple), nearest_side(height, multiple))
        if multiple == 1:
            raise LivestyleError(f"{what} {width}x{height}: width and height must be at least {smallest_side(1)}; "
                                 f"nearest: {format_size(nearest)}")
        why = "the generator halves the image three times" if multiple == SIZE_MULTIPLE else "the model's size_multiple"
        raise LivestyleError(f"{what} {width}x{height}: width and height must be multiples of {multiple} and at least "
                             f"{smallest_side(multiple)} ({why}); nearest: {format_size(nearest)}")
    return width, height


WXH = re.compile(r"\s*(\d{1,6})\s*[x×X,]\s*(\d{1,6})\s*")  # 640x360, 640×360 or 640,360; six digits at most:
# int() of thousands of digits is itself an error, and anything past six is past MAX_SIDE anyway


def read_wxh(text: str, what: str, example: str = "640x360") -> tuple[int, int]:
    """WIDTHxHEIGHT as written (the one grammar of every size flag), not yet bounded."""
    match = WXH.fullmatch(str(text))
    if match:
        return int(match[1]), int(match[2])
    if re.fullmatch(r"\s*\d+\s*[x×X,]\s*\d+\s*", str(text)):
        raise LivestyleError(f"{what} {str(text).strip()[:40]}: width and height must be at most {MAX_SIDE}; "
                             f"e.g. {example}")
    raise LivestyleError(f"{what} {text!r}: write WIDTHxHEIGHT, e.g. {example}")


def parse_size(text: str | tuple[int, int], what: str = "size", multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """An inference (or training frame) size: WIDTHxHEIGHT by validate_size's rule."""
    if isinstance(text, (tuple, list)):
        return validate_size(text, what, multiple)
    return validate_size(read_wxh(text, what), what, multiple)


MIN_OUTPUT_SIDE = 2  # the smallest picture a codec writes


def parse_output_size(value, what: str = "output size") -> tuple[int, int]:
    """A size pictures are shown or written at (not run at): WIDTHxHEIGHT or (width, height), each side
    MIN_OUTPUT_SIDE..MAX_SIDE."""
    if isinstance(value, str):
        width, height = read_wxh(value, what, "1920x1080")
    else:
        try:
            width, height = (int(v) for v in value)
        except (TypeError, ValueError, OverflowError):
            raise LivestyleError(f"{what} {value!r}: give whole numbers WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (MIN_OUTPUT_SIDE <= width <= MAX_SIDE and MIN_OUTPUT_SIDE <= height <= MAX_SIDE):
        raise LivestyleError(f"{what} {width}x{height}: write WIDTHxHEIGHT, {MIN_OUTPUT_SIDE} to {MAX_SIDE} pixels "
                             f"a side, e.g. 1920x1080")
    return width, height


def as_rect(value) -> Rect:
    """Any four numbers (a list from JSON, a tuple) as a Rect of whole pixels."""
    left, top, width, height = value
    return int(left), int(top), int(width), int(height)


def parse_region(text: str) -> Rect:
    match = re.fullmatch(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", str(text))
    if not match:
        raise LivestyleError(f"--region {text!r}: write X,Y,WIDTH,HEIGHT in screen pixels, e.g. 0,0,1280,720")
    left, top, width, height = (int(group) for group in match.groups())
    if width < 1 or height < 1:
        raise LivestyleError(f"--region {text!r}: width and height must be at least 1")
    return left, top, width, height
