"""silero-vad in front of a keyword model, as the small model of the agent's `cascade:` (no device code).

The front is one ONNX graph built around silero-vad's sequence variant (`silero_vad_16k_sequence.onnx`
in the silero-vad package: 576-sample chunks in, one speech probability per chunk out, its LSTM
state carried from chunk to chunk inside the call). It takes the keyword model's own input (the
`[1, window]` samples the audio source hands over), cuts the last `warmup + hop` chunks out of it,
starts the LSTM from zero state, and takes the highest speech probability among the chunks of the
newest hop: p = "someone spoke in the audio this call added".

Its output is a score row over the keyword model's classes that the cascade can route on:
`_silence` scores 1 - p, every other class p / (C - 1). The row's top probability is below 1 - t
exactly when p >= t (for C >= 3 and t <= 0.5), so `cascade: {band: [0, 1 - t]}` runs the keyword
model only when silero hears speech, and every other call is published as `_silence`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporters.errors import UsageError

CHUNK, CONTEXT = 512, 64  # silero-vad at 16 kHz: 512 new samples after 64 of context
SEQUENCE_MODEL = "silero_vad_16k_sequence.onnx"


def silero_sequence_model() -> Path:
    """The sequence variant of silero-vad from the installed silero-vad package."""
    try:
        import silero_vad  # type: ignore[import-untyped]
    except ImportError as exc:
        raise UsageError(
            "the VAD front needs the silero-vad package (scripts/install-test-models.sh)"
        ) from exc
    path = Path(silero_vad.__file__).parent / "data" / SEQUENCE_MODEL
    if not path.is_file():
        raise UsageError(f"{path}: this silero-vad package has no {SEQUENCE_MODEL}")
    return path


def band(threshold: float) -> tuple[float, float]:
    """The cascade band that escalates exactly when the front's speech probability is >= threshold."""
    return (0.0, round(1.0 - threshold, 6))


def build_vad_front(
    out: Path,
    labels: list[str],
    *,
    window: int,
    hop: int,
    silence: str = "_silence",
    input_name: str = "input",
    warmup: int = 4,
    silero: Path | None = None,
) -> Path:
    """Write the front for a keyword model with `labels` over `[1, window]` samples, `hop` new ones,
    taking them by the keyword model's own input name (the cascade feeds both models one tensor)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if silence not in labels or len(labels) < 3:
        raise UsageError(f"the VAD front needs a {silence!r} class among three or more, got {labels}")
    new = -(-hop // CHUNK)
    n = new + warmup
    if n * CHUNK + CONTEXT > window:
        raise UsageError(
            f"the VAD front sees {n} chunks of {CHUNK}: a window of {window} samples is too short"
        )
    model = onnx.load(str(silero or silero_sequence_model()))
    g = model.graph
    start = window - n * CHUNK - CONTEXT
    idx = start + np.arange(n)[:, None] * CHUNK + np.arange(CHUNK + CONTEXT)[None, :]
    sil = np.array([[1.0 if lab == silence else 0.0 for lab in labels]], dtype=np.float32)
    consts: dict[str, np.ndarray] = {
        "front_idx": idx.astype(np.int64),
        "front_shape": np.array([n, CHUNK + CONTEXT], dtype=np.int64),
        "h": np.zeros((1, 1, 128), np.float32),
        "c": np.zeros((1, 1, 128), np.float32),
        "front_starts": np.array([n - new], dtype=np.int64),
        "front_ends": np.array([n], dtype=np.int64),
        "front_axes": np.array([0], dtype=np.int64),
        "front_row_shape": np.array([1, 1], dtype=np.int64),
        "front_one": np.ones((1, 1), np.float32),
        "front_silence": sil,
        "front_speech": (1.0 - sil) / (len(labels) - 1),
    }
    inputs = {i.name for i in g.input}
    if not {"input", "h", "c"} <= inputs or "speech_probs" not in {o.name for o in g.output}:
        raise UsageError(f"{SEQUENCE_MODEL}: expected inputs input, h, c and output speech_probs")
    for i in list(g.input):
        g.input.remove(i)
    for node in g.node:  # silero's own `input` is renamed: the graph's input takes the caller's name
        node.input[:] = ["front_input" if x == "input" else x for x in node.input]
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
    head = [
        helper.make_node("Gather", [input_name, "front_idx"], ["front_chunks"], axis=1),
        helper.make_node("Reshape", ["front_chunks", "front_shape"], ["front_input"]),
    ]
    tail = [
        helper.make_node(
            "Slice", ["speech_probs", "front_starts", "front_ends", "front_axes"], ["front_new"]
        ),
        helper.make_node("ReduceMax", ["front_new"], ["front_max"], keepdims=1),
        helper.make_node("Reshape", ["front_max", "front_row_shape"], ["front_p"]),
        helper.make_node("Sub", ["front_one", "front_p"], ["front_q"]),
        helper.make_node("Mul", ["front_q", "front_silence"], ["front_sil_row"]),
        helper.make_node("Mul", ["front_p", "front_speech"], ["front_speech_row"]),
        helper.make_node("Add", ["front_sil_row", "front_speech_row"], ["scores"]),
    ]
    nodes = [*head, *g.node, *tail]
    del g.node[:]
    g.node.extend(nodes)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, len(labels)]))
    g.input.append(helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, window]))
    model.doc_string = (
        f"silero-vad front for a keyword model over {labels}: speech in the newest {hop} samples"
    )
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out
