"""What the compression tests share: the teacher, quick training settings, and a check that a
bundle's model runs in ONNX Runtime and reproduces its golden outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from export_images import CALIB_PHOTOS, HOLDOUT_PHOTOS

from exporters.compress.kd import FitSettings

PHOTOS = CALIB_PHOTOS + HOLDOUT_PHOTOS
TEACHER = (
    str(Path(__file__).resolve().parents[3] / "exporters" / "models" / "mobilenet_v2.py") + ":mobilenet_v2"
)
# A few epochs of a tiny student: the tests check the wiring and the structural facts, the
# benchmark (benchmarks/train.py) the figures a longer run reaches.
QUICK = FitSettings(max_epochs=4, budget_s=60, batch=16, lr=5e-3)


def golden_matches(bundle_root: Path) -> float:
    """Run the bundle's model in ONNX Runtime on its golden inputs; the largest error against its
    golden outputs."""
    import onnxruntime as ort

    from edge_agent.bundle.verify import verify_bundle

    bundle = verify_bundle(bundle_root)
    sess = ort.InferenceSession(str(bundle.model_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for case in bundle.manifest.golden:
        with np.load(bundle.root / case.inputs) as i, np.load(bundle.root / case.outputs) as o:
            got = sess.run(None, {k: i[k] for k in i.files})
            worst = max(worst, float(np.abs(got[0] - o[o.files[0]]).max()))
    assert bundle.manifest.golden, "the bundle carries golden cases"
    return worst
