"""Memory checked before it is allocated: what a job is estimated to need against what this process can
still get — min(the machine's MemAvailable, the address-space limit (RLIMIT_AS, `ulimit -v`) less what the
process has already mapped). A job that does not fit is one line naming the value, the estimate and the
limit, before anything big is allocated, instead of a kill by the OOM killer or an allocator's traceback.
Only a clear excess is refused: where the limit cannot be read (not Linux), nothing is refused."""
from __future__ import annotations

import resource

from livestyle.core.errors import LivestyleError


def _kib_field(path: str, field: str) -> int | None:
    """A "Field:   1234 kB" line of a /proc file, in bytes; None where there is no such file or line."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def headroom() -> tuple[int, str] | None:
    """(bytes this process can still allocate, what limits it), or None where neither limit can be read."""
    limits = []
    available = _kib_field("/proc/meminfo", "MemAvailable")
    if available is not None:
        limits.append((available, "the memory available on this machine"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        mapped = _kib_field("/proc/self/status", "VmSize") or 0
        limits.append((max(0, soft - mapped), f"what is left of the address-space limit ({gib(soft)}, ulimit -v)"))
    return min(limits) if limits else None


def gib(count: float) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def check_memory(what: str, needed: int, fix: str) -> None:
    """Refuse `what` (e.g. "--output-size 8192x8192") when its estimate `needed` exceeds the headroom."""
    room = headroom()
    if room is not None and needed > room[0]:
        raise LivestyleError(f"{what} needs about {gib(needed)} of memory, more than the {gib(room[0])} of "
                             f"{room[1]}; {fix}")
