"""Gaps and duplicates in a stream of received results, from their per-pipeline sequence numbers.

The outbox numbers every message per (device, pipeline), from 1, across restarts, and delivers at
least once: a receiver may see a number twice (a redelivery after a reconnect or a crash between
publish and PUBACK) but must never miss one the device committed. `SequenceTracker` is the
receiving side's check, fed one message at a time (a collector) or a whole list (`check_sequence`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, str]  # (device, pipeline)


@dataclass(slots=True)
class StreamReport:
    """What one (device, pipeline) stream looked like from the receiving side."""

    device: str
    pipeline: str
    received: int = 0  # messages, duplicates included
    unique: int = 0
    duplicates: int = 0  # messages whose number was already seen
    late: int = 0  # first arrivals below the highest number seen (out of order)
    first: int = 0
    last: int = 0
    missing: list[tuple[int, int]] = field(default_factory=list)  # inclusive ranges never seen

    @property
    def missing_count(self) -> int:
        return sum(b - a + 1 for a, b in self.missing)

    @property
    def in_order(self) -> bool:
        """True when every number arrived for the first time after all smaller ones that arrived."""
        return self.late == 0


class SequenceTracker:
    """Streaming gap/duplicate accounting; memory is one set of numbers per stream."""

    def __init__(self, start: int | None = 1) -> None:
        """`start`: the first number expected per stream (1 for a stream seen from its beginning);
        None counts gaps only from the smallest number received (a receiver that joined late)."""
        self.start = start
        self._seen: dict[Key, set[int]] = {}
        self._reports: dict[Key, StreamReport] = {}

    def add(self, device: str, pipeline: str, seq: int) -> str:
        """Record one received message; returns "new", "duplicate" or "late" (new but out of order)."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise ValueError(f"sequence number: expected an int >= 1, got {seq!r}")
        key = (device, pipeline)
        seen = self._seen.setdefault(key, set())
        rep = self._reports.get(key)
        if rep is None:
            rep = self._reports[key] = StreamReport(device, pipeline, first=seq, last=seq)
        rep.received += 1
        if seq in seen:
            rep.duplicates += 1
            return "duplicate"
        seen.add(seq)
        rep.unique += 1
        kind = "late" if seq < rep.last else "new"
        if kind == "late":
            rep.late += 1
        rep.first = min(rep.first, seq)
        rep.last = max(rep.last, seq)
        return kind

    def report(self, expect_last: Mapping[Key, int] | None = None) -> list[StreamReport]:
        """One report per stream, sorted by (device, pipeline), with the missing ranges filled in.

        `expect_last` gives, per stream, the last number the sender says it committed, so a missing
        tail counts too; a stream named there but never received is reported as all missing."""
        expect = dict(expect_last or {})
        for key in expect:
            if key not in self._reports:
                self._seen[key] = set()
                self._reports[key] = StreamReport(key[0], key[1])
        out = []
        for key in sorted(self._reports):
            rep = self._reports[key]
            lo = self.start if self.start is not None else (rep.first or 1)
            hi = max(rep.last, expect.get(key, 0))
            rep.missing = _ranges_missing(self._seen[key], lo, hi)
            out.append(rep)
        return out


def check_sequence(
    messages: Iterable[tuple[str, str, int]],
    start: int | None = 1,
    expect_last: Mapping[Key, int] | None = None,
) -> dict[Key, StreamReport]:
    """Gaps and duplicates for (device, pipeline, seq) triples in arrival order."""
    tracker = SequenceTracker(start)
    for device, pipeline, seq in messages:
        tracker.add(device, pipeline, seq)
    return {(r.device, r.pipeline): r for r in tracker.report(expect_last)}


def _ranges_missing(seen: set[int], lo: int, hi: int) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    expected = lo
    for n in sorted(s for s in seen if s >= lo):
        if n > expected:
            gaps.append((expected, n - 1))
        expected = n + 1
    if expected <= hi:  # a tail the sender committed but nobody received
        gaps.append((expected, hi))
    return gaps
