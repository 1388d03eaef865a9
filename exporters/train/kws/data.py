"""Where a keyword model's recordings come from: a folder of labelled clips, or the espeak-ng example.

A data folder has one subfolder per keyword holding WAV/FLAC/OGG clips at the model's rate (any
length; the clip's audible part is what is placed and augmented). Optional subfolders: `_unknown`
(other words), `_silence` (quiet recordings) and `_background_noise_` (long noise recordings mixed
under the words, as in the Speech Commands layout; training `_silence` recordings are used the same
way, every `_silence` clip of an epoch being noise drawn at a random level). Clips are split
80/10/10 into train / validation / held-out by speaker: the part of a file name before `_nohash_`
(Speech Commands' convention) or else the whole name, hashed, so one speaker's takes stay in one
split.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from exporters.errors import DataError
from exporters.train.kws.clips import F32, SILENCE, UNKNOWN, Corpus, Split, noise_bank
from exporters.train.kws.speech import SpeechSettings, example_words, trim

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
NOISE_DIR = "_background_noise_"
RELATIVE_TRIM = 0.1  # a user's clip: samples above a tenth of its peak are the word


def example_corpus(settings: SpeechSettings | None = None) -> Corpus:
    """The espeak-ng example: keywords, `_unknown` other words, held-out voices (speech.py)."""
    settings = settings or SpeechSettings()
    words = example_words(settings)
    labels = [SILENCE, UNKNOWN, *settings.keywords]
    index = {w: labels.index(w) if w in labels else 1 for w in (*settings.keywords, *settings.others)}

    def split(name: str) -> Split:
        w = words[name]
        return Split(w.audio, [index[x] for x in w.words])

    return Corpus(
        labels, split("train"), split("val"), split("holdout"), noise_bank(settings.rate), settings.rate
    )


def _speaker_bucket(path: Path) -> int:
    """0..9 from the speaker part of the name: 0-7 train, 8 validation, 9 held-out."""
    speaker = path.stem.split("_nohash_")[0]
    return int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % 10


def _read(path: Path, rate: int) -> F32:
    try:
        import soundfile as sf  # the audio extra
    except ImportError as exc:
        raise DataError("reading audio clips needs the audio extra (soundfile)") from exc
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DataError(f"{path}: cannot read as audio: {exc}") from exc
    if sr != rate:
        raise DataError(
            f"{path}: expected {rate} Hz audio, got {sr} Hz (resample the clips or pass --rate {sr})"
        )
    return np.asarray(x.mean(axis=1), dtype=np.float32)


def _clips(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def folder_corpus(root: Path, rate: int = 16000) -> Corpus:
    """A Corpus from a data folder (module docstring); DataError on a bad layout or clip."""
    if not root.is_dir():
        raise DataError(f"{root}: expected a folder with one subfolder of clips per keyword")
    folders = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    keywords = [n for n in folders if n not in (SILENCE, UNKNOWN, NOISE_DIR)]
    if not keywords:
        raise DataError(f"{root}: no keyword folders (expected e.g. {root}/yes/*.wav)")
    labels = [SILENCE, UNKNOWN, *keywords]
    splits: list[Split] = [Split([], []) for _ in range(3)]
    quiet: list[F32] = []  # training `_silence` recordings: drawn from like noise (clips.TrainClips)
    for name, folder in folders.items():
        if name == NOISE_DIR:
            continue
        files = _clips(folder)
        if not files:
            raise DataError(f"{folder}: class folder {name!r} holds no clips ({', '.join(AUDIO_SUFFIXES)})")
        for path in files:
            x = _read(path, rate)
            if name != SILENCE:
                x = trim(x, RELATIVE_TRIM * float(np.abs(x).max(initial=0.0)))
            if len(x) == 0:
                raise DataError(f"{path}: the clip is silent (all samples zero)")
            bucket = _speaker_bucket(path)
            if name == SILENCE and bucket < 8:
                quiet.append(x)
                continue
            s = splits[0 if bucket < 8 else 1 if bucket == 8 else 2]
            s.audio.append(x)
            s.labels.append(labels.index(name))
    for split, which in zip(splits[1:], ("validation", "held-out"), strict=True):
        if not split.audio:
            raise DataError(
                f"{root}: no clips fell in the {which} split (speakers are split 80/10/10 by name): "
                "give more clips or more speakers"
            )
    noises = [_read(p, rate) for p in _clips(folders[NOISE_DIR])] if NOISE_DIR in folders else []
    noises = [n / (float(np.sqrt(np.mean(n**2))) or 1.0) for n in [*noises, *quiet] if len(n)] + noise_bank(
        rate
    )
    log.info("%s: %d classes, %s clips", root, len(labels), [len(s.audio) for s in splits])
    return Corpus(labels, splits[0], splits[1], splits[2], [np.asarray(n, np.float32) for n in noises], rate)
