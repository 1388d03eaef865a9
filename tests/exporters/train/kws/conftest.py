"""One keyword bundle per session, trained on the espeak-ng example (cached in .cache/kws) and signed.

Training is the expensive part: a fixed number of epochs (the time budget set far out of reach, so
the epoch count and therefore the weights do not depend on how busy the machine is), once, read by
the training and the end-to-end tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="needs the export extra")
pytest.importorskip("onnxruntime.quantization", reason="needs the export extra")

from edge_agent.bundle.sign import write_keypair
from exporters.pipeline import ExportResult
from exporters.train.export import build_bundle
from exporters.train.kws.clips import Corpus
from exporters.train.kws.data import example_corpus
from exporters.train.kws.speech import espeak
from exporters.train.kws.train import KwsSettings, train
from exporters.train.settings import BuildOptions, FitSettings

EPOCHS = 12


@dataclass(slots=True)
class Built:
    corpus: Corpus
    result: ExportResult
    training: dict[str, Any]  # the bundle report's `training` section
    public_key: Path


@pytest.fixture(scope="session")
def kws(tmp_path_factory: pytest.TempPathFactory) -> Built:
    try:
        espeak()
    except Exception as exc:
        pytest.skip(str(exc))
    tmp = tmp_path_factory.mktemp("kws")
    key, pub = write_keypair(tmp / "signer")
    corpus = example_corpus()
    fit = FitSettings(max_epochs=EPOCHS, patience=EPOCHS, budget_s=1e6, lr=3e-3, progress=False)
    trained = train(corpus, KwsSettings(), fit)
    result, training = build_bundle(
        trained, BuildOptions(out=tmp / "kws-bundle", key=key, runs=20, progress=False)
    )
    return Built(corpus, result, training, pub)
