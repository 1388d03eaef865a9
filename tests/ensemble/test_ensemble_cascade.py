"""Ensemble voting and the cascade on real digits classifiers running in ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from pydantic import ValidationError

from edge_agent.ensemble.config import CascadeConfig, MemberConfig
from edge_agent.ensemble.models import Cascade, Ensemble, Member
from edge_agent.ensemble.voting import as_probabilities, vote
from edge_agent.errors import ModelError


def _member(path: Path, weight: float = 1.0) -> Member:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return Member(lambda feeds: s.run(None, feeds), weight=weight, name=path.stem)


def _accuracy(model: Ensemble | Cascade | Member, x: np.ndarray, y: np.ndarray) -> float:
    if isinstance(model, Member):
        pred = model.probs({"X": x}).argmax(axis=1)
    else:
        pred = model.run({"X": x})[0].argmax(axis=1)
    return float((pred == y).mean())


def test_cascade_matches_large_model_with_a_fraction_of_its_runs(
    digits: tuple[np.ndarray, ...], digit_models: dict[str, Path]
) -> None:
    _, _, x, y = digits
    small, large = _member(digit_models["small"]), _member(digit_models["large"])
    acc_small, acc_large = _accuracy(small, x, y), _accuracy(large, x, y)
    assert acc_small < acc_large
    cascade = Cascade(_member(digit_models["small"]), _member(digit_models["large"]), band=(0.0, 0.8))
    preds = [int(cascade.run({"X": x[i : i + 1]})[0].argmax()) for i in range(len(x))]  # one at a time
    acc = float((np.array(preds) == y).mean())
    stats = cascade.stats()
    assert acc >= acc_large - 0.002, (acc, acc_large)
    assert stats["cascade_inputs"] == len(x)
    assert 0.05 < stats["large_ratio"] < 0.35
    assert cascade.large.runs == stats["large_runs"]
    # a batch routes row by row and gives the same answers
    batch = Cascade(_member(digit_models["small"]), _member(digit_models["large"]), band=(0.0, 0.8))
    assert batch.run({"X": x})[0].argmax(axis=1).tolist() == preds
    assert batch.large.runs == 1


def test_band_edges_route_everything_or_nothing(
    digits: tuple[np.ndarray, ...], digit_models: dict[str, Path]
) -> None:
    _, _, x, y = digits
    never = Cascade(_member(digit_models["small"]), _member(digit_models["large"]), band=(0.0, 1e-6))
    never.run({"X": x})
    assert never.stats()["large_runs"] == 0
    always = Cascade(_member(digit_models["small"]), _member(digit_models["large"]), band=(0.0, 1.0))
    assert _accuracy(always, x, y) == _accuracy(_member(digit_models["large"]), x, y)
    with pytest.raises(ValidationError, match="band"):
        CascadeConfig(large=MemberConfig(model={"path": "large.onnx"}), band=(0.9, 0.5))


@pytest.mark.parametrize("voting", ["majority", "weighted", "mean_prob"])
def test_ensemble_of_three_beats_its_weak_members(
    voting: str, digits: tuple[np.ndarray, ...], digit_models: dict[str, Path]
) -> None:
    _, _, x, y = digits
    members = [
        _member(digit_models["small"], 1.0),
        _member(digit_models["large"], 2.0),
        _member(digit_models["tree"], 0.5),
    ]
    accs = sorted(_accuracy(m, x, y) for m in members)
    ensemble = Ensemble(members, voting)
    acc = _accuracy(ensemble, x, y)
    assert acc > accs[1]  # better than all but the best member
    if voting != "majority":  # one vote each lets two weaker members outvote the best one
        assert acc >= accs[2] - 0.005
    assert ensemble.stats()["member_runs"] == {"small": 2, "large": 2, "tree": 2}


def test_vote_rules_on_scripted_probabilities() -> None:
    a = np.array([[0.6, 0.4, 0.0]])
    b = np.array([[0.0, 0.55, 0.45]])
    c = np.array([[0.0, 0.45, 0.55]])
    assert vote([a, b, c], [1, 1, 1], "majority").argmax() == 1  # a says 0, b says 1, c says 2: tie
    assert vote([a, b, c], [1, 1, 1], "mean_prob").argmax() == 1  # tie broken by mean prob 0.47
    assert vote([a, b, c], [5, 1, 1], "weighted").argmax() == 0
    assert vote([a, b], [1, 1], "majority")[0, 0] == pytest.approx(0.5, abs=0.001)
    logits = as_probabilities(np.array([2.0, 1.0, -1.0]))
    assert logits.sum() == pytest.approx(1.0)
    assert logits.argmax() == 0
    with pytest.raises(ModelError, match="disagree"):
        vote([a, np.ones((1, 4)) / 4], [1, 1], "mean_prob")
    with pytest.raises(ModelError, match="expected majority"):
        vote([a], [1], "borda")
