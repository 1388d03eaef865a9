"""ONNX source: copied as is; the task is inferred from the outputs unless given, and the model's own
preprocessing (resize mode, padding, labels) taken from exporters/sources/known.py where it is known."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from exporters.errors import SourceError
from exporters.sources import Loaded, SourceSpec, infer_task
from exporters.sources.known import known_preprocess

log = logging.getLogger(__name__)


def io_shapes(path: Path) -> list[tuple[str, list[int | str]]]:
    """(name, shape) of each graph output, dims as ints or names."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    out: list[tuple[str, list[int | str]]] = []
    for o in model.graph.output:
        dims = o.type.tensor_type.shape.dim
        out.append((o.name, [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]))
    return out


def load(spec: SourceSpec, workdir: Path) -> Loaded:
    src = Path(spec.source)
    if not src.is_file():
        raise SourceError(f"{src}: no such ONNX file")
    dst = workdir / "source.onnx"
    shutil.copyfile(src, dst)
    data = src.with_name(src.name + ".data")
    if data.is_file():  # external weights written beside the model (torch's dynamo exporter does this)
        shutil.copyfile(data, workdir / data.name)
    task, head = infer_task(io_shapes(dst))
    known = known_preprocess(dst)
    if known is None:
        return Loaded(onnx_path=dst, kind="onnx", task=spec.task or task, head=head)
    log.info("%s: %s", src, known.why)
    return Loaded(
        onnx_path=dst,
        kind="onnx",
        task=spec.task or task,
        head=head,
        labels=list(known.labels) if known.labels else None,
        preprocess_preset=known.preset,
        resize=known.resize,
        pad_value=known.pad_value,
        notes={"preprocess_from": known.why},
    )
