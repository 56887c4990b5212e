"""Scores at display resolution: what the player sees, not what the trainer saw.

The model runs on full-size recorded frames at an inference size (the live app's `--size`), its
output is shown at a display size (`--output-size`, default each frame's own), and it is scored
there against the true graded frame, beside two references:

* do nothing: the game frame itself (at the display size);
* resized only: the game frame shrunk to the inference size and enlarged back, no model, so the
  cost of the reduced size is visible on its own.

Frames: lists of uint8 H×W×3 RGB arrays at their recorded size. Resizing uses the runtime's one
rule (livestyle.core.images.resize), so these are the pixels the app shows.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from livestyle.core.images import resize
from training import metrics

Frame = np.ndarray
REFERENCES = ("model", "do_nothing", "resized_only")


def at_size(frame: Frame, size: tuple[int, int]) -> Frame:
    return frame if (frame.shape[1], frame.shape[0]) == tuple(size) else resize(frame, size)


def display_size(frame: Frame, output_size: tuple[int, int] | None) -> tuple[int, int]:
    return tuple(output_size) if output_size else (frame.shape[1], frame.shape[0])


def resized_only(frame: Frame, size: tuple[int, int], output_size: tuple[int, int] | None) -> Frame:
    return at_size(at_size(frame, size), display_size(frame, output_size))


def score(predictions: list[Frame], targets: list[Frame]) -> dict:
    """Mean SSIM, PSNR (dB) and structure of predictions against targets of the same sizes
    (one pair at a time: frames of one folder may differ in size)."""
    values = {"ssim": [], "psnr": [], "structure": []}
    for prediction, target in zip(predictions, targets, strict=False):
        p, t = metrics.uint8_to_unit(prediction), metrics.uint8_to_unit(target)
        values["ssim"].append(metrics.ssim(p, t))
        values["psnr"].append(metrics.psnr(p, t))
        values["structure"].append(metrics.structure(p, t))
    return {name: torch.cat(v).mean().item() for name, v in values.items()}


def display_scores(stylize: Callable[[Frame], Frame], inputs: list[Frame], truths: list[Frame],
                   size: tuple[int, int], output_size: tuple[int, int] | None = None,
                   keep: int = 0, references: bool = True) -> tuple[dict, list[tuple[Frame, ...]]]:
    """Scores of the model (`stylize`: full-size RGB frame -> RGB at the display size) and, unless
    `references` is False (they do not change between epochs), of the two references; also the
    first `keep` (input, resized only, model, truth) quadruples for a picture."""
    model, nothing, small, shown_truths, kept = [], [], [], [], []
    for frame, truth in zip(inputs, truths, strict=False):
        shown = display_size(frame, output_size)
        prediction = stylize(frame)
        if (prediction.shape[1], prediction.shape[0]) != shown:
            raise ValueError(f"the model gave {prediction.shape[1]}x{prediction.shape[0]}, expected "
                             f"{shown[0]}x{shown[1]}")
        model.append(prediction)
        nothing.append(at_size(frame, shown))
        small.append(resized_only(frame, size, output_size))
        shown_truths.append(at_size(truth, shown))
        if len(kept) < keep:
            kept.append((nothing[-1], small[-1], prediction, shown_truths[-1]))
    result = {"pairs": len(inputs), "size": list(size),
              "output_size": list(output_size) if output_size else "input", "model": score(model, shown_truths)}
    if references:
        result.update(do_nothing=score(nothing, shown_truths), resized_only=score(small, shown_truths))
    return result, kept


def generator_stylize(generator: torch.nn.Module, size: tuple[int, int], output_size: tuple[int, int] | None,
                      device: torch.device | str, run: Callable | None = None) -> Callable[[Frame], Frame]:
    """A training-side stand-in for livestyle.Stylizer (same resize rule, same rounding) that uses
    the generator being trained as it is, without touching its mode, dtype or the thread count."""
    from training.data import translate

    def stylize(frame: Frame) -> Frame:
        small = torch.from_numpy(np.ascontiguousarray(at_size(frame, size)))[None]
        styled = (run or translate)(generator, small, device)[0].numpy()
        return at_size(styled, display_size(frame, output_size))

    return stylize


def verdict(row: dict) -> str:
    model, nothing = row["model"], row["do_nothing"]
    better = all(model[k] > nothing[k] for k in ("ssim", "psnr", "structure"))
    return "better than doing nothing" if better else "NOT better than doing nothing"
