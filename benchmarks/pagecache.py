"""Start a benchmark as a device starts after a reboot: its shared libraries not in the page cache.

Pages that a fresh install has just written can sit in the page cache in large folios, and a fault
maps a large folio whole (Linux 6.16+ on ext4): the same agent then shows tens of MB more file-backed
RSS than after a reboot, and the figure depends on what ran before. `run_cold()` re-runs the calling
script in a process that maps none of those libraries yet, after writing back and dropping their
pages (pages another running process maps stay where they are). Standard library only, so that this
process itself maps nothing it drops.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

ENV = "EDGE_BENCH_PAGES_DROPPED"


def library_files() -> list[Path]:
    """The shared libraries a Python process of this venv can map: everything in site-packages,
    the standard library's extension modules and libpython."""
    files = [*Path(sysconfig.get_path("purelib")).rglob("*.so*")]
    files += Path(sysconfig.get_path("platstdlib"), "lib-dynload").glob("*.so")
    files += Path(sysconfig.get_config_var("LIBDIR") or "/nonexistent").glob("libpython*.so*")
    return sorted({f.resolve() for f in files if f.is_file()})


def drop() -> tuple[int, float]:
    """Write back and drop the library files' pages; returns (files, MB)."""
    n, size = 0, 0
    for f in library_files():
        try:
            fd = os.open(f, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fdatasync(fd)  # dirty pages (a fresh install) are not dropped: write them back first
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n, size = n + 1, size + os.fstat(fd).st_size
        finally:
            os.close(fd)
    return n, size / 2**20


def run_cold() -> None:
    """Re-run this script (same interpreter and arguments) after dropping the pages, once: the
    process calling it has mapped the libraries already, so the drop runs in a fresh `-c` process
    that exec()s the script again. Sets EDGE_BENCH_PAGES_DROPPED to "files,MB"."""
    if ENV in os.environ or not hasattr(os, "posix_fadvise"):
        return
    code = (
        f"import os, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import pagecache; "
        "n, mb = pagecache.drop(); os.environ[pagecache.ENV] = f'{n},{mb:.0f}'; "
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    os.execv(sys.executable, [sys.executable, "-c", code, *sys.argv])


def dropped() -> str:
    """What run_cold() dropped, for the benchmark's output."""
    n, _, mb = os.environ.get(ENV, "").partition(",")
    if not mb:
        return "page cache left as it was"
    return f"{n} library files, {mb} MB, dropped from the page cache first"
