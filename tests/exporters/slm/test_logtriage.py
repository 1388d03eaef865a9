"""The log-triage task's data: a split with no family on both sides, balanced severities, answers
valid against the task's schema, and severity carried by meaning, not by one give-away token."""

from __future__ import annotations

import json
import re
from collections import Counter

import jsonschema  # type: ignore[import-untyped]
import pytest

from edge_agent.bundle.manifest import PromptSpec
from exporters.slm.tasks import logtriage
from exporters.slm.tasks.logtriage_families import COMPONENTS, FAMILIES, SEVERITIES
from tests.exporters.slm.wording import runs


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_split_holds_out_whole_families_of_every_severity(seed: int) -> None:
    sp = logtriage.split(seed, n_train=300, n_heldout=90)
    train_fams = {r["family"] for r in sp.train}
    held_fams = {r["family"] for r in sp.heldout}
    assert not train_fams & held_fams
    assert held_fams == set(sp.heldout_families)
    assert len(sp.heldout_families) == 24  # 8 of each severity's 40
    assert len(sp.train_families) == len(FAMILIES) - 24
    for rows in (sp.train, sp.heldout):
        counts = Counter(r["severity"] for r in rows)
        assert set(counts) == set(SEVERITIES)
        assert max(counts.values()) - min(counts.values()) <= 1
    assert "24 held-out families (90 lines)" in sp.describe()


def test_split_is_a_function_of_its_seed() -> None:
    assert logtriage.split(3, 60, 30).heldout == logtriage.split(3, 60, 30).heldout
    assert logtriage.split(3).heldout_families != logtriage.split(4).heldout_families


def test_answers_validate_against_the_task_schema() -> None:
    schema = logtriage.schema()
    for row in logtriage.generate(5, 200):
        answer = logtriage.answer(row)
        assert answer.startswith(logtriage.ANSWER_PREFIX + row["severity"] + logtriage.LABEL_SUFFIX)
        jsonschema.validate(json.loads(answer), schema)
        assert row["component"] in COMPONENTS
        assert "\n" not in row["text"]
        assert row["text"].strip() == row["text"]


def test_prompt_spec_is_a_manifest_prompt_spec() -> None:
    spec = PromptSpec.model_validate(logtriage.prompt_spec())
    assert spec.labels == ["ok", "warning", "fault"]
    assert spec.label_field == "severity"
    assert spec.template.format(input="x") == "Triage this device log line:\nx"
    assert spec.schema_ is not None
    assert spec.schema_["properties"]["severity"]["enum"] == spec.labels


def test_no_program_or_alarm_word_gives_the_severity_away() -> None:
    rows = logtriage.generate(11, 3000)
    by_word: dict[str, set[str]] = {}
    for r in rows:
        for word in set(re.findall(r"[a-z]+", r["text"].lower())):
            by_word.setdefault(word, set()).add(r["severity"])
    # The programs that log at every level, and the words a keyword rule would key on.
    for word in ("kernel", "systemd", "sshd", "mosquitto", "usb", "mmc"):
        assert len(by_word[word]) >= 2, word
    assert by_word["errors"] & {"ok"}
    assert by_word["error"] >= {"warning", "fault"}
    assert {"ok", "fault"} <= by_word["failed"] | by_word["failure"]


def test_bad_arguments_name_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"heldout_per_severity: expected 1\.\.39"):
        logtriage.split(0, heldout_per_severity=40)
    with pytest.raises(ValueError, match="n: expected a count"):
        logtriage.generate(0, -1)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_input_rewrite_cuts_timestamp_host_and_pid_and_keeps_the_message(seed: int) -> None:
    """Every rendered style (syslog, ISO-8601 journal, bare dmesg or tag) comes out as
    `program: message`; what is cut carries no meaning (docs/slm.md, "Input rewrites")."""
    from edge_agent.bundle import rewrite

    rules = PromptSpec.model_validate(logtriage.prompt_spec()).input_rewrite
    fams = {f.name: f for f in FAMILIES}
    for row in logtriage.generate(seed, 300):
        fam = fams[row["family"]]
        out = rewrite.apply(rules, row["text"])
        program, _, message = out.partition(": ")
        assert program == fam.program, (row["text"], out)
        assert row["text"].endswith(message)
        assert not re.search(r"\d\d:\d\d:\d\d|\[\d+\]|\[ *\d+\.\d+\]", out.split(": ", 1)[0])
    assert rewrite.apply(rules, "Dec  1 10:00:00 pi sshd[42]: Accepted password for pi") == (
        "sshd: Accepted password for pi"
    )
    assert rewrite.apply(rules, "[  12.500000] EXT4-fs (sda1): mounted") == "kernel: EXT4-fs (sda1): mounted"
    assert rewrite.apply(rules, "free text, no log prefix") == "free text, no log prefix"


def test_forty_kinds_of_event_per_severity_and_the_later_ones_reword_none() -> None:
    # The 24 families a severity gained (logtriage_more_*) are events of their own: none shares a run
    # of four words with another family of its severity (the C library's error texts aside, which any
    # program may print), so holding one out holds its wording out too. Across severities a shared
    # run is a program's prefix ("3gpp registration state changed"), a cue that decides nothing.
    import os

    from exporters.slm.tasks import logtriage_more_fault, logtriage_more_ok, logtriage_more_warning

    assert Counter(f.severity for f in FAMILIES) == {"ok": 40, "warning": 40, "fault": 40}
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)
    later = {
        f.name for m in (logtriage_more_ok, logtriage_more_warning, logtriage_more_fault) for f in m.FAMILIES
    }
    assert len(later) == 72
    errno_texts = {r for code in range(1, 134) for r in runs(os.strerror(code))}
    owners: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for fam in FAMILIES:
        for t in fam.templates:
            for r in runs(t) - errno_texts:
                owners.setdefault((fam.severity, r), set()).add(fam.name)
    shared = {
        (key, tuple(sorted(names))) for key, names in owners.items() if len(names) > 1 and names & later
    }
    assert not shared
