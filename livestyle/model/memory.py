"""How much memory running a model at a size takes, estimated before it is run (livestyle.core.memory
compares it with what the process can get). The largest layer's input and output are measured on a small
probe picture and scaled by the pixels; calibrated against the peak resident size of real runs on the CPU
(GANimorph N=16 and N=64, 640x360 to 1280x720, batch 1 and 4: 3.0 to 3.8 times that largest layer, plus a
fixed overhead), hence PEAK_FACTOR."""
from __future__ import annotations

import torch
from torch import nn

PROBE = (64, 64)
PEAK_FACTOR = 3.5
OVERHEAD = 64 << 20  # the framework's own buffers, measured as the difference at small sizes


def inference_bytes(module: nn.Module, size: tuple[int, int], batch: int = 1) -> int:
    """Estimated peak bytes of one forward pass of `module` on batch×3×H×W float32 (size = (W, H))."""
    largest = 0

    def hook(_module, inputs, output) -> None:
        nonlocal largest
        tensors = [t for t in (*inputs, output) if torch.is_tensor(t)]
        largest = max(largest, sum(t.numel() * t.element_size() for t in tensors))

    leaves = [m for m in module.modules() if not list(m.children())] or [module]
    hooks = [leaf.register_forward_hook(hook) for leaf in leaves]
    try:
        with torch.no_grad():
            module(torch.zeros(1, 3, PROBE[1], PROBE[0], device=next(module.parameters(), torch.zeros(0)).device))
    finally:
        for handle in hooks:
            handle.remove()
    pixels = size[0] * size[1] * batch / (PROBE[0] * PROBE[1])
    weights = sum(p.numel() * p.element_size() for p in module.parameters())
    return int(PEAK_FACTOR * largest * pixels + weights + OVERHEAD)
