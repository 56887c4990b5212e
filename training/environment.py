"""Device, precision and the process's place in a torchrun job."""
from __future__ import annotations

import logging
import os

import torch
import torch.distributed as dist

from training.config import TrainConfig, TrainingError

LOG = logging.getLogger("training")


class Environment:
    def __init__(self, config: TrainConfig):
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        wanted = config.device
        if wanted == "cuda" and not torch.cuda.is_available():
            raise TrainingError("--device cuda: no CUDA GPU is visible to this torch "
                                f"({torch.__version__}); use --device cpu or install a CUDA build")
        use_cuda = wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available())
        if use_cuda:
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local_rank)
            self.device = torch.device("cuda", local_rank)
            torch.backends.cudnn.benchmark = True
        else:
            self.device = torch.device("cpu")
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        self.amp = bool(config.amp) and use_cuda
        if config.amp and not use_cuda and self.is_main:
            LOG.warning("note: --amp (bf16 autocast) applies on CUDA only; training in fp32 on the CPU")
        self.memory_format = torch.channels_last if use_cuda else torch.contiguous_format

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on one (so that all stop together)."""
        if not self.distributed:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            value = value.detach().clone()
            dist.all_reduce(value)
            value /= self.world
        return value
