"""The receiving side's gap/duplicate check (edge_agent.outbox.sequence)."""

from __future__ import annotations

import pytest

from edge_agent.outbox.sequence import SequenceTracker, check_sequence


def test_clean_stream_has_no_gaps_or_duplicates() -> None:
    rep = check_sequence(("d", "p", n) for n in range(1, 101))[("d", "p")]
    assert (rep.received, rep.unique, rep.duplicates, rep.missing, rep.in_order) == (100, 100, 0, [], True)
    assert (rep.first, rep.last) == (1, 100)


def test_redelivery_after_reconnect_counts_duplicates_not_gaps() -> None:
    # 1..50, then the in-flight window 45..50 again after a reconnect, then 51..60
    stream = [*range(1, 51), *range(45, 51), *range(51, 61)]
    rep = check_sequence(("d", "p", n) for n in stream)[("d", "p")]
    assert rep.duplicates == 6
    assert rep.missing == []
    assert rep.in_order


def test_gaps_are_ranges_and_streams_are_separate() -> None:
    msgs = [("d", "a", n) for n in (1, 2, 5, 6, 9)] + [("d", "b", n) for n in (1, 2, 3)]
    reps = check_sequence(msgs)
    assert reps[("d", "a")].missing == [(3, 4), (7, 8)]
    assert reps[("d", "a")].missing_count == 4
    assert reps[("d", "b")].missing == []


def test_late_arrival_is_out_of_order_and_fills_the_gap() -> None:
    t = SequenceTracker()
    kinds = [t.add("d", "p", n) for n in (1, 3, 2, 3)]
    assert kinds == ["new", "new", "late", "duplicate"]
    (rep,) = t.report()
    assert rep.missing == []
    assert rep.late == 1
    assert not rep.in_order


def test_missing_head_and_tail_against_what_the_sender_committed() -> None:
    reps = check_sequence([("d", "p", 3), ("d", "p", 4)], expect_last={("d", "p"): 7, ("d", "q"): 2})
    assert reps[("d", "p")].missing == [(1, 2), (5, 7)]
    assert reps[("d", "q")].missing == [(1, 2)]
    assert reps[("d", "q")].received == 0
    joined_late = check_sequence([("d", "p", 3), ("d", "p", 5)], start=None)[("d", "p")]
    assert joined_late.missing == [(4, 4)]


@pytest.mark.parametrize("bad", [0, -1, True, "3", 2.0])
def test_bad_numbers_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="expected an int"):
        SequenceTracker().add("d", "p", bad)  # type: ignore[arg-type]
