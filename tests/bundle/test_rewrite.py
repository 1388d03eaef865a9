"""Input rewrites (edge_agent.bundle.rewrite): the substitutions a PromptSpec makes on an input before
its template, checked where a manifest or a config is read, and applied the same on both sides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge_agent.bundle import rewrite
from edge_agent.bundle.manifest import PromptSpec
from edge_agent.bundle.settings import PromptOverride


def test_rules_apply_in_order_to_every_match() -> None:
    rules = [(r"\d+", "N"), (r"N N", "pair")]
    assert rewrite.apply(rules, "1 22 x 333") == "pair x N"
    assert rewrite.apply([], "unchanged 1") == "unchanged 1"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([("(", "")], r"input_rewrite\[0\]: '\(' -> '' does not compile"),
        ([("a", "b"), ("(x)", r"\2")], r"input_rewrite\[1\]: .*invalid group reference 2"),
        ([("only one",)], r"input_rewrite\[0\]: expected \[pattern, replacement\]"),
    ],
)
def test_a_bad_rule_is_refused_naming_it(rules: list[tuple[str, ...]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rewrite.check(rules)


def test_a_manifest_prompt_with_a_bad_rule_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"input_rewrite.*does not compile"):
        PromptSpec.model_validate({"input_rewrite": [["[unclosed", ""]]})
    ok = PromptSpec.model_validate({"input_rewrite": [["^x", "y"]]})
    assert ok.input_rewrite == [("^x", "y")]
    assert PromptSpec().input_rewrite == []


def test_a_config_override_is_checked_and_can_turn_the_rules_off() -> None:
    with pytest.raises(ValidationError, match=r"input_rewrite.*does not compile"):
        PromptOverride.model_validate({"input_rewrite": [["(", ""]]})
    assert PromptOverride.model_validate({"input_rewrite": []}).input_rewrite == []
    assert PromptOverride().input_rewrite is None  # the bundle's rules stay
