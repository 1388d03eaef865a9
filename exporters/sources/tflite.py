"""TFLite source, converted with tflite2onnx.

Why tflite2onnx and not tf2onnx: tf2onnx needs TensorFlow itself (hundreds of MB, and it pins numpy
and protobuf against the rest of this stack); tflite2onnx reads the flatbuffer through the small
`tflite` schema package and writes plain ONNX. It covers the common vision ops of small models
(MediaPipe BlazeFace converts cleanly); a model it cannot convert fails loudly here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from exporters.errors import SourceError
from exporters.sources import Loaded, SourceSpec, infer_task

log = logging.getLogger(__name__)


def load(spec: SourceSpec, workdir: Path) -> Loaded:
    src = Path(spec.source)
    if not src.is_file():
        raise SourceError(f"{src}: no such TFLite file")
    import tflite2onnx

    dst = workdir / "source.onnx"
    # tflite2onnx warns once per float16 tensor ("not supported/tested"); the output is checked by the
    # gate and the golden run instead, so keep the log readable.
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)
    try:
        tflite2onnx.convert(str(src), str(dst))
    except Exception as exc:  # tflite2onnx raises bare NotImplementedError/AssertionError
        raise SourceError(f"{src}: tflite2onnx cannot convert it ({type(exc).__name__}: {exc})") from exc
    from exporters.sources.onnx_file import io_shapes

    task, head = infer_task(io_shapes(dst))
    return Loaded(
        onnx_path=dst,
        kind="tflite",
        task=spec.task or task,
        head=head,
        preprocess_preset="signed" if head == "blazeface" else None,
        notes={"converter": "tflite2onnx"},
    )
