"""Keeping the agent's memory small on boards with little RAM (a hardware profile's `low_memory`).

glibc gives each thread that allocates its own malloc arena (up to 8 per core), and an arena keeps
what it once held: with capture, prep, infer, outbox and paho threads that is several idle megabytes
each. `MALLOC_ARENA_MAX=2` in the environment does the same before the process starts (the systemd
unit may set it); this sets it from inside, before the pipeline threads allocate.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2
_done = threading.Event()


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas once per process; False where the C library is not glibc."""
    if _done.is_set():
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        ok = bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # musl or another libc without mallopt
        ok = False
    if ok:
        _done.set()
        log.info("malloc arenas limited to %d (low-memory profile)", arenas)
    return ok
