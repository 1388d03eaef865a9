"""Example keyword data spoken by espeak-ng: keywords and other words in many voices, split by voice.

Each rendition is one word in one voice (an English accent + an espeak-ng variant), speed (`-s`)
and pitch (`-p`). The validation and held-out splits use variants the training split never
hears, so their accuracy is accuracy on new voices, not on new takes of known ones. The words are
stored trimmed of silence at the model's rate (resampled with the agent's own streaming
resampler); placing them in a clip, noise and gain are augmentation (exporters.train.kws.clips).

Synthesis takes about 50 ms a word; the result is cached in `.cache/kws/` of the checkout (else
`$XDG_CACHE_HOME/edge-export/kws/`) under a hash of every setting and the espeak-ng version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.sources.audio import Resampler
from exporters.errors import DataError

log = logging.getLogger(__name__)
F32 = npt.NDArray[np.float32]

KEYWORDS = ("yes", "no", "stop", "go", "left", "right")
OTHER_WORDS = (
    "up", "down", "on", "off", "cat", "dog", "bird", "house",
    "tree", "happy", "wow", "seven", "zero", "bed", "learn", "follow",
)  # fmt: skip
ACCENTS = (
    "en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan",
    "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)  # fmt: skip
# espeak-ng variants (`espeak-ng --voices=variant`): disjoint sets, so no split hears another's voice.
TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "croak", "klatt", "klatt2")
VAL_VARIANTS = ("m7", "f5")
HOLDOUT_VARIANTS = ("m6", "f4", "klatt3")
TRIM_LEVEL = 0.01  # |sample| above this is the word; espeak's own lead-in and tail are silence


@dataclass(frozen=True, slots=True)
class SpeechSettings:
    """What the example corpus is made of; every field is part of its cache key."""

    keywords: tuple[str, ...] = KEYWORDS
    others: tuple[str, ...] = OTHER_WORDS
    accents: tuple[str, ...] = ACCENTS
    variants: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"train": TRAIN_VARIANTS, "val": VAL_VARIANTS, "holdout": HOLDOUT_VARIANTS}
    )
    # Renditions per keyword and per other word, by split.
    per_keyword: dict[str, int] = field(default_factory=lambda: {"train": 48, "val": 12, "holdout": 12})
    per_other: dict[str, int] = field(default_factory=lambda: {"train": 10, "val": 3, "holdout": 3})
    speeds: tuple[int, int] = (120, 210)  # words per minute
    pitches: tuple[int, int] = (25, 75)  # 0..99, espeak's default 50
    rate: int = 16000
    seed: int = 0

    def scaled(self, factor: float) -> SpeechSettings:
        """The same corpus design with `factor` times the renditions (a smaller slice for tests)."""

        def scale(d: dict[str, int]) -> dict[str, int]:
            return {k: max(1, round(v * factor)) for k, v in d.items()}

        return SpeechSettings(
            self.keywords, self.others, self.accents, self.variants,
            scale(self.per_keyword), scale(self.per_other), self.speeds, self.pitches, self.rate, self.seed,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rendition:
    word: str
    voice: str  # accent+variant, as `espeak-ng -v` takes it
    speed: int
    pitch: int


@dataclass(slots=True)
class Words:
    """One split's trimmed word recordings at the model rate and the word each one says."""

    audio: list[F32]
    words: list[str]
    voices: list[str]


def espeak() -> str:
    """The espeak-ng program, or a DataError saying how to get it."""
    found = shutil.which("espeak-ng")
    if found is None:
        raise DataError("the example keywords are spoken by espeak-ng: apt-get install espeak-ng")
    return found


def renditions(settings: SpeechSettings) -> dict[str, list[Rendition]]:
    """Which word is said in which voice, speed and pitch, per split (seeded: the same every run)."""
    rng = np.random.default_rng(settings.seed)
    out: dict[str, list[Rendition]] = {}
    for split, variants in settings.variants.items():
        voices = [f"{a}+{v}" for a in settings.accents for v in variants]
        todo: list[Rendition] = []
        for words, count in (
            (settings.keywords, settings.per_keyword),
            (settings.others, settings.per_other),
        ):
            for word in words:
                for _ in range(count[split]):
                    todo.append(
                        Rendition(
                            word,
                            voices[int(rng.integers(len(voices)))],
                            int(rng.integers(settings.speeds[0], settings.speeds[1] + 1)),
                            int(rng.integers(settings.pitches[0], settings.pitches[1] + 1)),
                        )
                    )
        out[split] = todo
    return out


def _read_wav(path: Path) -> tuple[F32, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise DataError(f"{path}: expected 16-bit mono WAV from espeak-ng")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return (pcm.astype(np.float32) / 32768.0), w.getframerate()


def trim(x: F32, level: float = TRIM_LEVEL) -> F32:
    """The audible part of a recording (a few ms kept either side)."""
    loud = np.flatnonzero(np.abs(x) > level)
    if len(loud) == 0:
        return x[:0]
    pad = 80
    return x[max(0, loud[0] - pad) : loud[-1] + pad]


def say(r: Rendition, rate: int, program: str, out: Path) -> F32:
    """One rendition, trimmed, at `rate` Hz (`out`: a scratch WAV path)."""
    cmd = [program, "-v", r.voice, "-s", str(r.speed), "-p", str(r.pitch), "-w", str(out), r.word]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.is_file():
        raise DataError(f"espeak-ng {' '.join(cmd[1:-2])} {r.word!r} failed: {done.stderr.strip()}")
    x, sr = _read_wav(out)
    out.unlink()
    return trim(Resampler(sr, rate)(x))


def _version(program: str) -> str:
    return subprocess.run([program, "--version"], capture_output=True, text=True, check=False).stdout.strip()


def cache_dir() -> Path:
    """`.cache/kws` in the checkout when run from one, else the XDG cache."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and os.access(root, os.W_OK):
        return root / ".cache" / "kws"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "edge-export" / "kws"


def example_words(settings: SpeechSettings | None = None, *, cache: Path | None = None) -> dict[str, Words]:
    """The example corpus per split ("train", "val", "holdout"), synthesized or read from the cache."""
    settings = settings or SpeechSettings()
    program = espeak()
    key_src = json.dumps({**asdict(settings), "espeak": _version(program)}, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    path = (cache or cache_dir()) / f"espeak-{key}.npz"
    if path.is_file():
        log.info("example keywords from the cache %s", path)
        return _load(path)
    plan = renditions(settings)
    with tempfile.TemporaryDirectory(prefix="kws-espeak-") as tmp, ThreadPoolExecutor(2) as pool:

        def one(job: tuple[str, int, Rendition]) -> F32:
            split, i, r = job
            return say(r, settings.rate, program, Path(tmp) / f"{split}{i}.wav")

        said = {
            split: list(pool.map(one, [(split, i, r) for i, r in enumerate(todo)]))
            for split, todo in plan.items()
        }
    corpus = {
        split: Words(
            [a for a in said[split] if len(a)],
            [r.word for r, a in zip(todo, said[split], strict=True) if len(a)],
            [r.voice for r, a in zip(todo, said[split], strict=True) if len(a)],
        )
        for split, todo in plan.items()
    }
    _save(path, corpus)
    log.info("example keywords: %s, cached in %s", {s: len(w.audio) for s, w in corpus.items()}, path)
    return corpus


def _save(path: Path, corpus: dict[str, Words]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    for split, w in corpus.items():
        arrays[f"{split}_audio"] = np.concatenate(w.audio) if w.audio else np.zeros(0, np.float32)
        arrays[f"{split}_lengths"] = np.array([len(a) for a in w.audio], dtype=np.int64)
        arrays[f"{split}_words"] = np.array(w.words)
        arrays[f"{split}_voices"] = np.array(w.voices)
    part = path.with_suffix(".part.npz")
    np.savez_compressed(part, **arrays)  # type: ignore[arg-type]
    part.replace(path)  # a run killed mid-write leaves no half cache behind


def _load(path: Path) -> dict[str, Words]:
    with np.load(path) as z:
        splits = sorted({k.rsplit("_", 1)[0] for k in z.files})
        out = {}
        for split in splits:
            bounds = np.cumsum(z[f"{split}_lengths"])[:-1]
            audio = [np.asarray(a, dtype=np.float32) for a in np.split(z[f"{split}_audio"], bounds)]
            out[split] = Words(
                audio, [str(s) for s in z[f"{split}_words"]], [str(s) for s in z[f"{split}_voices"]]
            )
        return out
