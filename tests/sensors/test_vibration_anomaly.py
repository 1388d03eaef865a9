"""CSV replay of a vibration signal with injected faults → anomaly events at the injected times.

Two real models built here from healthy data and exported with skl2onnx (test side only): an
IsolationForest on window features, and an autoencoder (MLP with a 3-unit bottleneck) whose
reconstruction error is the score. Both run in ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from edge_agent.bundle.settings import AnomalyPost
from edge_agent.config.models import PipelineConfig
from edge_agent.events.threshold import Threshold
from edge_agent.features.config import WindowConfig
from edge_agent.features.windows import window_features
from edge_agent.pipeline.runner import Pipeline
from edge_agent.postprocess.anomaly import Anomaly
from edge_agent.sources.sensor_config import ReplaySensorConfig
from edge_agent.sources.sensors import SensorSource
from edge_agent.stages.types import Outbound

skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx (export side) builds the test models")

RATE = 1000
WINDOW = WindowConfig(size=250, hop=125, features=["std", "rms", "ptp", "fft"], fft_bands=8)
FAULTS = [(15.0, 18.0), (38.0, 41.0)]  # bearing impulses, then imbalance


def vibration(seconds: float, seed: int, faults: list[tuple[float, float]]) -> np.ndarray:
    """Two axes of a motor at 30 Hz with a 120 Hz harmonic; faults add a 250 Hz tone (a bearing) or
    imbalance at the running speed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.5 * np.sin(2 * np.pi * 30 * t) + 0.2 * np.sin(2 * np.pi * 120 * t + 0.3)
    y = 0.4 * np.sin(2 * np.pi * 30 * t + 1.2) + 0.1 * np.sin(2 * np.pi * 120 * t)
    for i, (a, b) in enumerate(faults):
        on = (t >= a) & (t < b)
        if i % 2 == 0:
            x += on * 0.4 * np.sin(2 * np.pi * 250 * t)
        else:
            x += on * 0.8 * np.sin(2 * np.pi * 30 * t)
            y += on * 0.6 * np.sin(2 * np.pi * 30 * t + 1.2)
    sig = np.stack([x, y], axis=1) + rng.normal(0, 0.05, (len(t), 2))
    return np.column_stack([t, sig]).astype(np.float64)


@pytest.fixture(scope="module")
def healthy() -> np.ndarray:
    """Features of two minutes of healthy running (another seed than the replayed file)."""
    sig = vibration(120.0, seed=1, faults=[])[:, 1:].astype(np.float32)
    starts = range(0, len(sig) - WINDOW.size + 1, WINDOW.hop)
    return np.stack(
        [window_features(sig[s : s + WINDOW.size], WINDOW.features or [], WINDOW.fft_bands) for s in starts]
    )


@pytest.fixture(scope="module")
def replay_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vib") / "vibration.csv"
    np.savetxt(
        path, vibration(60.0, seed=2, faults=FAULTS), delimiter=",", header="ts,x,y", comments="", fmt="%.5f"
    )
    return path


def _session(onx: Any) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def isolation_forest(
    healthy: np.ndarray, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ort.InferenceSession, float, Path]:
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=100, random_state=0).fit(healthy)
    onx = skl2onnx.to_onnx(model, healthy[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    path = tmp_path_factory.mktemp("iforest") / "iforest.onnx"
    path.write_bytes(onx.SerializeToString())
    # Threshold from healthy data only. IsolationForest scores saturate for points far outside the
    # training range, so the cut sits above the healthy 99th percentile rather than above its maximum;
    # min_on_s then ignores a lone healthy window that crosses it.
    return _session(onx), float(np.percentile(-model.decision_function(healthy), 99)) + 0.02, path


@pytest.fixture(scope="module")
def autoencoder(healthy: np.ndarray) -> tuple[ort.InferenceSession, float]:
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feats = healthy
    model = make_pipeline(
        StandardScaler(), MLPRegressor(hidden_layer_sizes=(8, 3, 8), max_iter=500, random_state=0)
    )
    model.fit(feats, feats)
    onx = skl2onnx.to_onnx(model, feats[:1].astype(np.float32), target_opset=17)
    err = np.mean((model.predict(feats) - feats) ** 2, axis=1)
    return _session(onx), float(np.max(err)) * 2.0


def _events(csv: Path, session: ort.InferenceSession, post_cfg: AnomalyPost) -> list[dict[str, Any]]:
    src = SensorSource(
        ReplaySensorConfig(kind="csv", path=str(csv), speed=0, channels=["x", "y"], window=WINDOW)
    )
    post, logic = Anomaly(post_cfg), Threshold(post_cfg.events())
    name = session.get_inputs()[0].name
    src.open()
    t0 = None
    events: list[dict[str, Any]] = []
    while (frame := src.read()) is not None:
        t0 = frame.meta["start_ts"] if t0 is None else t0
        x = frame.data[None, :]
        out = post(session.run(None, {name: x}), None, x)
        events += [e | {"t": e["ts"] - t0} for e in logic.update(out, frame.ts)]
    src.close()
    return events


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["isolation_forest", "reconstruction"])
def test_anomaly_events_at_injected_fault_times(
    kind: str, replay_csv: Path, isolation_forest: tuple[Any, float], autoencoder: tuple[Any, float]
) -> None:
    session, threshold = isolation_forest[:2] if kind == "isolation_forest" else autoencoder
    cfg = AnomalyPost(
        method=kind,
        threshold=threshold,
        clear=threshold / 2 if kind != "isolation_forest" else 0.0,
        output=-1 if kind == "isolation_forest" else 0,
        min_on_s=0.2,
        min_off_s=0.5,
    )
    events = _events(replay_csv, session, cfg)
    pairs = [(s["t"], e["t"]) for s, e in zip(events[::2], events[1::2], strict=True)]
    assert [e["event"] for e in events] == ["start", "end"] * len(FAULTS), pairs
    win = WINDOW.size / RATE  # a window's time is its end: it sees a fault up to one window late/early
    for (start, end), (f_start, f_end) in zip(pairs, FAULTS, strict=True):
        assert f_start - 0.01 <= start <= f_start + win + 0.01, (start, f_start)
        assert f_end - 0.01 <= end <= f_end + win + 0.01, (end, f_end)


@pytest.mark.slow
def test_anomaly_pipeline_through_the_runner(
    replay_csv: Path, isolation_forest: tuple[Any, float, Path]
) -> None:
    _, threshold, model_path = isolation_forest
    cfg = PipelineConfig.model_validate(
        {
            "source": {
                "kind": "csv",
                "path": str(replay_csv),
                "speed": 0,
                "channels": ["x", "y"],
                "window": WINDOW.model_dump(),
            },
            "model": {"path": str(model_path)},
            "postprocess": {
                "kind": "anomaly",
                "threshold": threshold,
                "clear": 0.0,
                "min_on_s": 0.2,
                "min_off_s": 0.5,
            },
        }
    )
    out: list[Outbound] = []
    pipe = Pipeline("vibration", cfg, out.append)
    pipe.start()
    assert pipe.finished.wait(120)
    pipe.stop()
    assert pipe.snapshot()["failures"] == 0, pipe.error
    results = [o.body for o in out if o.kind == "results"]
    t0 = results[0]["ts"] - WINDOW.size / RATE  # a window's ts is its last reading
    events = [o.body for o in out if o.kind == "events"]
    assert [(e["event"], e["name"]) for e in events] == [("start", "anomaly"), ("end", "anomaly")] * 2
    for ev, (f_start, _) in zip(events[::2], FAULTS, strict=True):
        assert f_start - 0.02 <= ev["ts"] - t0 <= f_start + WINDOW.size / RATE + 0.02
    for ev, (_, f_end) in zip(events[1::2], FAULTS, strict=True):
        assert f_end - 0.02 <= ev["ts"] - t0 <= f_end + WINDOW.size / RATE + 0.02
