"""Labelled examples for training: a folder with one sub-folder per class, or a CSV of (path, label).

`read_examples` gives the example files, their class indices and the class names in order (sorted
folder names, or labels in order of first appearance in a CSV); `stratified_split` keeps every
class's share in the validation split. Bad data fails with a DataError naming the path or column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from exporters.errors import DataError


@dataclass(slots=True)
class Examples:
    """Example files with a class index each, and the class names (index order)."""

    paths: list[Path]
    labels: npt.NDArray[np.int64]
    classes: list[str]

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.labels):
            raise ValueError(f"expected a label per path, got {len(self.labels)} for {len(self.paths)}")

    def subset(self, idx: npt.NDArray[np.int64]) -> Examples:
        return Examples([self.paths[i] for i in idx], self.labels[idx], self.classes)


def _check_classes(source: Path, classes: list[str], counts: list[int]) -> None:
    if len(classes) < 2:
        raise DataError(
            f"{source}: expected at least 2 classes to tell apart, got {len(classes)} ({', '.join(classes)})"
        )
    for name, n in zip(classes, counts, strict=True):
        if n == 0:
            raise DataError(f"{source / name if source.is_dir() else source}: class {name!r} has no examples")


def _from_folder(root: Path, suffixes: tuple[str, ...]) -> Examples:
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [d.name for d in dirs]
    paths: list[Path] = []
    labels: list[int] = []
    counts = []
    for i, d in enumerate(dirs):
        files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        if not files:
            raise DataError(f"{d}: class {d.name!r} has no examples ({', '.join(suffixes)})")
        paths += files
        labels += [i] * len(files)
        counts.append(len(files))
    _check_classes(root, classes, counts)
    return Examples(paths, np.asarray(labels, np.int64), classes)


def _from_csv(path: Path, path_column: str, label_column: str) -> Examples:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for col in (path_column, label_column):
            if col not in columns:
                raise DataError(f"{path}: no column {col!r} (columns: {', '.join(columns) or 'none'})")
        rows = list(reader)
    classes: list[str] = []
    paths: list[Path] = []
    labels: list[int] = []
    for line, row in enumerate(rows, start=2):
        file, label = (row.get(path_column) or "").strip(), (row.get(label_column) or "").strip()
        if not file or not label:
            raise DataError(f"{path}:{line}: expected a {path_column!r} and a {label_column!r}, got {row}")
        if label not in classes:
            classes.append(label)
        p = Path(file)
        paths.append(p if p.is_absolute() else path.parent / p)
        labels.append(classes.index(label))
    _check_classes(path, classes, [labels.count(i) for i in range(len(classes))])
    return Examples(paths, np.asarray(labels, np.int64), classes)


def read_examples(
    source: Path, suffixes: tuple[str, ...], *, path_column: str = "path", label_column: str = "label"
) -> Examples:
    """Examples from a folder of class sub-folders (files ending in `suffixes`) or a CSV
    (`path_column`: a file, relative to the CSV's folder; `label_column`: its class)."""
    if source.is_dir():
        return _from_folder(source, suffixes)
    if source.suffix.lower() == ".csv" and source.is_file():
        return _from_csv(source, path_column, label_column)
    raise DataError(f"{source}: expected a folder with one sub-folder per class, or a CSV of path,label")


def align(examples: Examples, classes: list[str], source: Path) -> Examples:
    """`examples` (a given validation or held-out set) with class indices in the training order."""
    unknown = sorted(set(examples.classes) - set(classes))
    if unknown:
        raise DataError(f"{source}: classes {unknown} are not among the training classes {classes}")
    remap = np.asarray([classes.index(c) for c in examples.classes], np.int64)
    return Examples(examples.paths, remap[examples.labels], classes)


def stratified_split(
    labels: npt.NDArray[np.int64], fraction: float, seed: int = 0, classes: list[str] | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(kept, split off) indices: about `fraction` of every class split off, at least one each, and at
    least one kept; seeded."""
    if not 0 < fraction < 1:
        raise ValueError(f"expected a split fraction in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    kept: list[int] = []
    off: list[int] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) < 2:
            name = classes[int(c)] if classes else str(int(c))
            raise DataError(f"class {name!r} has {len(idx)} example(s): a split needs at least 2 per class")
        n = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        off += idx[:n].tolist()
        kept += idx[n:].tolist()
    return np.asarray(sorted(kept), np.int64), np.asarray(sorted(off), np.int64)
