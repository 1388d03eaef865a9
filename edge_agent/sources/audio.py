"""Audio sources: WAV/FLAC files (libsndfile via soundfile) and live ALSA capture via `arecord`.

Both resample to the model's rate and cut the stream into chunks with context: each Frame's data is
`context` samples of the previous chunk followed by `chunk` new samples (float32, mono, -1..1), which
is how streaming models such as silero-vad are fed. `Frame.ts` is the time of the chunk's first new
sample; `meta["offset_s"]` is its position in the stream.

Why `arecord` for live capture: alsa-utils is on every Raspberry Pi OS / Debian image, there is no C
extension to build (pyalsaaudio needs ALSA headers, sounddevice needs PortAudio), a wedged driver
hangs a child process rather than the agent, and a restart is just a new process. It writes raw
S16_LE to a pipe that we read in chunk-sized blocks; the kernel pipe buffers while the worker is busy.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.errors import SourceError
from edge_agent.sources.signal_config import AudioSourceConfig
from edge_agent.stages.types import Frame

log = logging.getLogger(__name__)
F32 = npt.NDArray[np.float32]


def lowpass_taps(ratio: float, taps_per_ratio: int = 16) -> F32:
    """Windowed-sinc low-pass for downsampling by `ratio` (in/out rate > 1), cut at 0.9 of the new Nyquist."""
    n = int(taps_per_ratio * ratio) | 1
    cutoff = 0.5 / ratio * 0.9  # cycles per input sample
    k = np.arange(n) - (n - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * k) * np.hamming(n)
    return np.asarray(h / h.sum(), dtype=np.float32)


class Resampler:
    """Streaming resampler: anti-alias FIR (when downsampling) then linear interpolation.

    State carries across calls, so chunk boundaries leave no clicks and no drift: the output of
    many small calls equals one big call.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate, self.out_rate = in_rate, out_rate
        self.step = in_rate / out_rate
        self.taps = lowpass_taps(self.step) if in_rate > out_rate else None
        self._hist = np.zeros(0 if self.taps is None else len(self.taps) - 1, dtype=np.float32)
        self._buf = np.zeros(0, dtype=np.float32)
        self._pos = 0.0  # position of the next output sample, in input samples from _buf[0]

    def __call__(self, x: F32) -> F32:
        if self.in_rate == self.out_rate:
            return x.astype(np.float32, copy=False)
        if self.taps is not None:
            joined = np.concatenate([self._hist, x])
            self._hist = joined[len(joined) - len(self._hist) :]
            x = np.convolve(joined, self.taps, mode="valid").astype(np.float32)
        buf = np.concatenate([self._buf, x])
        last = len(buf) - 1
        if last < self._pos:
            self._buf = buf
            return np.zeros(0, dtype=np.float32)
        n = int((last - self._pos) // self.step) + 1
        where = self._pos + np.arange(n) * self.step
        out: F32 = np.interp(where, np.arange(len(buf)), buf).astype(np.float32)
        nxt = self._pos + n * self.step
        drop = min(int(nxt), len(buf))
        self._buf, self._pos = buf[drop:], nxt - drop
        return out


class Chunker:
    """Cuts a sample stream into `context + chunk` frames; the first frame's context is silence."""

    def __init__(self, chunk: int, context: int) -> None:
        self.chunk, self.context = chunk, context
        self._pending = np.zeros(context, dtype=np.float32)
        self.emitted = 0  # new samples handed out so far (excludes context)

    def push(self, samples: F32) -> list[tuple[F32, int]]:
        """Add samples; return complete (frame data, offset of its first new sample) pairs."""
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        out = []
        while len(self._pending) >= self.context + self.chunk:
            out.append((self._pending[: self.context + self.chunk].copy(), self.emitted))
            self.emitted += self.chunk
            self._pending = self._pending[self.chunk :]
        return out


def to_mono(block: npt.NDArray[Any], channel: int | None) -> F32:
    """(frames, channels) → 1-D: one channel, or the mean of all."""
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    if channel is not None:
        if channel >= block.shape[1]:
            raise SourceError(f"channel {channel}: expected < {block.shape[1]} channels in the input")
        return np.asarray(block[:, channel], dtype=np.float32)
    return np.asarray(block.mean(axis=1), dtype=np.float32)


class _AudioBase:
    """Resampling, chunking and timestamps shared by the file and ALSA sources."""

    def __init__(self, cfg: AudioSourceConfig, name: str, live: bool) -> None:
        self.cfg = cfg
        self.name = name or cfg.path
        self.live = live
        self._ready: list[tuple[F32, int]] = []
        self._t0 = 0.0
        self._index = 0
        self._resample = Resampler(cfg.rate, cfg.rate)
        self._chunker = Chunker(cfg.chunk, cfg.context)

    def _restart(self, in_rate: int) -> None:
        self._resample = Resampler(in_rate, self.cfg.rate)
        self._chunker = Chunker(self.cfg.chunk, self.cfg.context)
        self._ready = []
        self._t0 = time.time()
        self._index = 0

    def _feed(self, samples: F32) -> None:
        self._ready += self._chunker.push(self._resample(samples))

    def _frame(self) -> Frame:
        data, offset = self._ready.pop(0)
        offset_s = offset / self.cfg.rate
        f = Frame(
            data,
            ts=self._t0 + offset_s,
            index=self._index,
            source=self.name,
            meta={"offset_s": offset_s, "rate": self.cfg.rate, "context": self.cfg.context},
        )
        self._index += 1
        return f


class AudioFileSource(_AudioBase):
    """A WAV/FLAC/OGG file read in blocks; `realtime` paces chunks like a microphone would."""

    BLOCK = 8192

    def __init__(self, cfg: AudioSourceConfig, name: str = "") -> None:
        super().__init__(cfg, name, live=False)
        self._file: Any = None

    def open(self) -> None:
        import soundfile as sf  # the audio extra; only audio pipelines need it

        path = Path(self.cfg.path)
        if not path.is_file():
            raise SourceError(f"audio file not found: {path}")
        try:
            self._file = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise SourceError(f"{path}: cannot read as audio: {exc}") from exc
        self._restart(int(self._file.samplerate))
        log.info(
            "audio %s: %d Hz x %d ch → %d Hz", path, self._file.samplerate, self._file.channels, self.cfg.rate
        )

    def read(self) -> Frame | None:
        if self._file is None:
            raise SourceError("source is not open")
        while not self._ready:
            block = self._file.read(self.BLOCK, dtype="float32", always_2d=True)
            if len(block) == 0:
                if not self.cfg.loop or self._chunker.emitted == 0:
                    return None
                self._file.seek(0)
                self._restart(int(self._file.samplerate))
                continue
            self._feed(to_mono(block, self.cfg.channel))
        frame = self._frame()
        if self.cfg.realtime:
            delay = frame.ts - time.time()
            if delay > 0:
                time.sleep(delay)
        return frame

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class AlsaSource(_AudioBase):
    """Live capture: `arecord` writes raw S16_LE to a pipe; a dead child is a SourceError (retried)."""

    def __init__(self, cfg: AudioSourceConfig, name: str = "") -> None:
        super().__init__(cfg, name, live=True)
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The arecord command line."""
        rate = self.cfg.capture_rate or self.cfg.rate
        return [
            self.cfg.arecord,
            "-q",
            "-D",
            self.cfg.path,
            "-t",
            "raw",
            "-f",
            "S16_LE",
            "-r",
            str(rate),
            "-c",
            str(self.cfg.channels),
        ]

    def open(self) -> None:
        try:
            self._proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise SourceError(f"cannot start {self.cfg.arecord!r} (install alsa-utils): {exc}") from exc
        self._restart(self.cfg.capture_rate or self.cfg.rate)

    def read(self) -> Frame | None:
        if self._proc is None or self._proc.stdout is None:
            raise SourceError("source is not open")
        frame_bytes = 2 * self.cfg.channels
        want = self.cfg.chunk * frame_bytes
        while not self._ready:
            raw = self._proc.stdout.read(want)
            if not raw:
                err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
                code = self._proc.wait()
                raise SourceError(f"arecord on {self.cfg.path!r} exited ({code}): {err or 'no message'}")
            raw = raw[: len(raw) - len(raw) % frame_bytes]
            pcm = np.frombuffer(raw, dtype="<i2").reshape(-1, self.cfg.channels)
            self._feed(to_mono(pcm.astype(np.float32) / 32768.0, self.cfg.channel))
        return self._frame()

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()
            self._proc = None


def open_audio_source(cfg: AudioSourceConfig, name: str = "") -> AudioFileSource | AlsaSource:
    """The source for an audio `source:` block."""
    return AudioFileSource(cfg, name) if cfg.kind == "audio_file" else AlsaSource(cfg, name)
