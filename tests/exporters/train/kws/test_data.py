"""Bad keyword data gets a clear error naming the file or folder; the CLI refuses what makes no sense."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile", reason="the audio extra (soundfile) is not installed")
pytest.importorskip("torch", reason="needs the export extra")

from exporters.cli import main  # noqa: E402
from exporters.errors import DataError  # noqa: E402
from exporters.train.kws.clips import SILENCE, UNKNOWN  # noqa: E402
from exporters.train.kws.data import folder_corpus  # noqa: E402


def _tone(rate: int, seconds: float = 0.5, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _folder(root: Path, classes: dict[str, int], rate: int = 16000, speakers: int = 30) -> Path:
    for i, (name, hz) in enumerate(classes.items()):
        (root / name).mkdir(parents=True)
        for s in range(speakers):
            sf.write(str(root / name / f"spk{s}_nohash_{i}.wav"), _tone(rate, hz=hz), rate)
    return root


def test_a_good_folder_reads_with_speakers_kept_in_one_split(tmp_path: Path) -> None:
    corpus = folder_corpus(_folder(tmp_path / "d", {"yes": 440, "no": 660, UNKNOWN: 880}))
    assert corpus.labels == [SILENCE, UNKNOWN, "no", "yes"]
    n = [len(s.audio) for s in (corpus.train, corpus.val, corpus.holdout)]
    assert sum(n) == 90
    assert min(n) > 0
    assert corpus.rate == 16000
    assert len(corpus.noises) >= 4


def test_a_clip_at_the_wrong_rate_is_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {"yes": 440, "no": 660})
    sf.write(str(root / "no" / "odd_nohash_0.wav"), _tone(22050), 22050)
    with pytest.raises(DataError, match=r"odd_nohash_0\.wav: expected 16000 Hz audio, got 22050 Hz"):
        folder_corpus(root)


def test_an_empty_class_folder_is_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {"yes": 440, "no": 660})
    (root / "stop").mkdir()
    with pytest.raises(DataError, match=r"stop: class folder 'stop' holds no clips"):
        folder_corpus(root)


def test_a_folder_without_keyword_folders_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "d"
    (root / UNKNOWN).mkdir(parents=True)
    with pytest.raises(DataError, match="no keyword folders"):
        folder_corpus(root)


def test_too_few_speakers_for_a_held_out_split_is_refused(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", {"yes": 440, "no": 660}, speakers=1)
    with pytest.raises(DataError, match="split"):
        folder_corpus(root)


def test_cli_needs_data_or_the_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "audio", "-o", str(tmp_path / "b")]) == 2
    assert "give a DATA folder or --example keywords" in capsys.readouterr().err
    root = _folder(tmp_path / "d", {"yes": 440, "no": 660})
    assert main(["train", "audio", str(root), "--example", "keywords", "-o", str(tmp_path / "b")]) == 2


def test_cli_reports_bad_data_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _folder(tmp_path / "d", {"yes": 440, "no": 660})
    (root / "go").mkdir()
    assert main(["train", "audio", str(root), "-o", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("edge-export: ")
    assert "class folder 'go' holds no clips" in err
    assert len(err.splitlines()) == 1
