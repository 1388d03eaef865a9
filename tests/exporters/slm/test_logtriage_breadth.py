"""The compositional training families (exporters/slm/tasks/logtriage_breadth.py): broad, balanced,
valid answers, and never a held-out family's wording or line: the held-out figure stays triage of
messages the model never saw."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema  # type: ignore[import-untyped]
import pytest

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
