"""edge-export prune: ImageNet MobileNetV2 restricted to three classes, channel-pruned by
torch-pruning, fine-tuned to the unpruned model's outputs; the curve is structural (parameters,
MACs, file size) and the smallest variant that passes is built, gated and signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from compress_helpers import TEACHER, golden_matches

from edge_agent.bundle.verify import load_public_key, verify_bundle
from exporters.cli import main
from exporters.compress.kd import FitSettings
from exporters.compress.prune import PruneOptions, PruneResult, check_sparsities, prune
from exporters.errors import UsageError

# The prune build is a fixture, counted in the first test that asks for it: 68-180 s at load
# average 9-19 on the 2 cores (training is capped by its epoch and seconds budget), so the suite's
# 300 s would leave too little headroom. No test judges a duration.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def pruned(
    session_dir: Path, images: dict[str, Path], mobilenet_weights: Path, keypair: tuple[Path, Path]
) -> PruneResult:
    return prune(
        PruneOptions(
            source=TEACHER,
            weights=mobilenet_weights,
            data=images["train"],
            holdout=images["held"],
            out=session_dir / "compress" / "pruned",
            classes=3,
            sparsities=[0.5, 0.0],
            input_size=64,
            min_agreement=1e-6,  # every variant passes, so the choice must be the smallest
            fit=FitSettings(max_epochs=2, budget_s=60, batch=16, lr=1e-3),
            max_drop=0.25,
            key=keypair[0],
            runs=5,
        )
    )


def test_pruned_model_is_smaller_and_chosen(pruned: PruneResult) -> None:
    curve = {r["sparsity"]: r for r in pruned.report["curve"]}
    assert list(curve) == [0.0, 0.5]  # sorted
    dense, half = curve[0.0], curve[0.5]
    assert half["params"] < 0.5 * dense["params"]  # channels halve, so weights fall by more
    assert half["macs"] < 0.5 * dense["macs"]
    assert half["size_bytes"] < dense["size_bytes"]
    assert dense["top1_agreement"] == 1.0  # the unpruned model in ORT agrees with itself in torch
    assert dense["fit_epochs"] == 0
    assert half["fit_epochs"] >= 1
    assert pruned.report["chosen"]["sparsity"] == 0.5


def test_pruned_bundle_passes_its_gate_verifies_and_runs(
    pruned: PruneResult, keypair: tuple[Path, Path]
) -> None:
    assert pruned.build.report["gate"]["passed"] is True
    bundle = verify_bundle(pruned.build.bundle.root, [load_public_key(keypair[1])])
    assert bundle.manifest.inputs[0].shape[2:] == [64, 64]
    assert golden_matches(bundle.root) <= bundle.manifest.golden[0].atol


@pytest.mark.parametrize("values", [[1.0], [0.25, -0.1], []])
def test_sparsity_outside_unit_interval_is_refused(values: list[float]) -> None:
    with pytest.raises(UsageError, match="--sparsity"):
        check_sparsities(values)


def test_cli_refuses_sparsity_one_before_loading_anything(tmp_path: Path, images: dict[str, Path]) -> None:
    args = ["prune", TEACHER, "--data", str(images["train"]), "-o", str(tmp_path / "o"), "--sparsity", "0,1"]
    assert main(args) == 2
    assert not (tmp_path / "o").exists()
