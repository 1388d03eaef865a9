"""The compositional training families (exporters/slm/tasks/logtriage_breadth.py): broad, balanced,
valid answers, and never a held-out family's wording or line: the held-out figure stays triage of
messages the model never saw."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema  # type: ignore[import-untyped]
import pytest

from edge_agent.bundle import rewrite
from exporters.slm.tasks import logtriage, logtriage_breadth
from exporters.slm.tasks.logtriage_families import COMPONENTS, FAMILIES, SEVERITIES
from tests.exporters.slm.wording import runs


def test_no_breadth_wording_shares_four_words_with_any_task_family() -> None:
    # Against all 120 families, not one split's held-out 24: every seed's held-out side stays unseen.
    task_runs = {r: f.name for f in FAMILIES for t in f.templates for r in runs(t)}
    shared = {
        (r, task_runs[r], fam.name)
        for fam in logtriage_breadth.FAMILIES_B
        for t in fam.templates
        for r in runs(t)
        if r in task_runs
    }
    assert not shared


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_split_with_breadth_keeps_the_held_out_side_unseen(seed: int) -> None:
    sp = logtriage.split(seed, n_train=300, n_heldout=90, n_breadth=900)
    assert sp.breadth == 900
    assert len(sp.train) == 1200
    train_fams = {r["family"] for r in sp.train}
    assert not train_fams & set(sp.heldout_families)
    assert not {r["text"] for r in sp.train} & {r["text"] for r in sp.heldout}
    counts = Counter(r["severity"] for r in sp.train)
    assert max(counts.values()) - min(counts.values()) <= 2
    assert sum(f.startswith("b.") for f in train_fams) > 300  # breadth: hundreds of families seen


def test_breadth_is_broad_and_its_answers_valid() -> None:
    fams = logtriage_breadth.FAMILIES_B
    assert len({f.name for f in fams}) == len(fams)
    assert not {f.name for f in fams} & {f.name for f in FAMILIES}
    per_sev = Counter(f.severity for f in fams)
    assert set(per_sev) == set(SEVERITIES)
    assert min(per_sev.values()) >= 150
    schema = logtriage.schema()
    rows = logtriage_breadth.generate(3, 600)
    for row in rows:
        jsonschema.validate(json.loads(logtriage.answer(row)), schema)
        assert row["component"] in COMPONENTS
        assert "{" not in row["text"]  # every placeholder filled
        assert "\n" not in row["text"]
    assert logtriage_breadth.generate(3, 600) == rows  # a pure function of its seed


def test_cue_words_occur_at_more_than_one_severity() -> None:
    # "failed", "error(s)", "timed out" and "reset" are not give-aways: the situation decides the
    # label ("USB hub reset" is a warning, "system reset triggered by the watchdog" a fault).
    rows = logtriage_breadth.generate(5, 3000)
    for word in ("failed", "error", "timed out", "reset"):
        sevs = {r["severity"] for r in rows if word in r["text"].lower()}
        assert len(sevs) >= 2, (word, sevs)


def test_level_markers_match_the_severity_and_leave_the_held_out_side_alone() -> None:
    plain = logtriage.split(2, n_train=120, n_heldout=60, n_breadth=600)
    marked = logtriage.split(2, n_train=120, n_heldout=60, n_breadth=600, markers=0.5)
    assert marked.heldout == plain.heldout  # a training-side augmentation only
    heads = {sev: {m.split("{m}")[0] for m in logtriage_breadth.LEVEL_MARKERS[sev]} for sev in SEVERITIES}
    rows = logtriage_breadth.generate(4, 900, markers=0.5)
    seen: Counter[str] = Counter()
    for row in rows:
        msg = rewrite.apply(logtriage.INPUT_REWRITE, row["text"]).split(": ", 1)[1]
        found = [sev for sev, hs in heads.items() if any(msg.startswith(h) for h in hs)]
        if found:
            assert row["severity"] in found, row
            seen[row["severity"]] += 1
        assert "{" not in row["text"]
    assert all(seen[sev] > 60 for sev in SEVERITIES), seen  # about half of 300 per severity
    assert logtriage_breadth.generate(4, 900, markers=0.0) == logtriage_breadth.generate(4, 900)
    # the markers add no four-word run shared with any task family
    task_runs = {r for f in FAMILIES for t in f.templates for r in runs(t)}
    assert not any(r in task_runs for m in heads.values() for h in m for r in runs(h + "the uplink is up"))


def test_retag_moves_program_tags_on_the_training_side_only() -> None:
    plain = logtriage.split(1, n_train=600, n_heldout=60)
    retagged = logtriage.split(1, n_train=600, n_heldout=60, retag=0.5)
    assert retagged.heldout == plain.heldout
    assert len(retagged.train) == 600
    own = {f.name: f.program for f in FAMILIES}

    def moved(rows: list[dict[str, object]]) -> int:
        tags = [rewrite.apply(logtriage.INPUT_REWRITE, str(r["text"])).split(": ", 1)[0] for r in rows]
        return sum(tag != own[str(r["family"])] for tag, r in zip(tags, rows, strict=True))

    unmoved = moved(plain.train)
    assert unmoved == 0
    assert 200 < moved(retagged.train) < 320  # about half, less the draws of the family's own program
