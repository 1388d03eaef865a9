"""The files a text pipeline's input names, as the config loader and `config validate` treat every
other source's: relative paths are relative to the config file's folder (not to the working
directory), and a file that is not there or cannot be read is an error naming the key and its line.

- `text_file` `source.path` (resolved): a readable file;
- `log_follow` `source.path` (resolved): in an existing folder, and a readable file when it is there
  (it may be absent for a while, as `tail -F` allows);
- `journald` `source.directory` (resolved, when given): a readable folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from edge_agent.text.source_config import JournaldConfig, LogFollowConfig, TextFileConfig


def resolve_text_paths(src: object, rel: Callable[[Path], Path]) -> None:
    """Make a text input's paths relative to the config's folder (`rel` does it for one path)."""
    if isinstance(src, TextFileConfig | LogFollowConfig):
        src.path = str(rel(Path(src.path)))
    elif isinstance(src, JournaldConfig) and src.directory is not None:
        src.directory = str(rel(Path(src.directory)))


def text_path_problems(src: object) -> Iterator[tuple[str, str]]:
    """(key under `source`, message) for each file of a text input that cannot be used here."""
    if isinstance(src, TextFileConfig):
        problem = _file_problem(Path(src.path))
        if problem:
            yield "path", f"{src.path} {problem}; expected a readable file for a text_file source"
    elif isinstance(src, LogFollowConfig):
        path = Path(src.path)
        if path.exists():
            problem = _file_problem(path)
            if problem:
                yield "path", f"{src.path} {problem}; expected a readable log file for a log_follow source"
        elif not path.parent.is_dir():
            folder = path.parent
            yield "path", f"{folder} does not exist; expected the folder of a log_follow source's log file"
    elif isinstance(src, JournaldConfig) and src.directory is not None:
        folder = Path(src.directory)
        if not folder.is_dir():
            state = "is not a folder" if folder.exists() else "does not exist"
            yield "directory", f"{folder} {state}; expected a folder of journal files (journalctl -D)"
        elif not os.access(folder, os.R_OK | os.X_OK):
            yield "directory", f"{folder} cannot be read; expected a readable folder of journal files"


def _file_problem(path: Path) -> str | None:
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is a folder" if path.is_dir() else "is not a regular file"
    if not os.access(path, os.R_OK):
        return "cannot be read"
    return None
