"""PyTorch source: `path.py:factory` or `package.module:factory` building an nn.Module, plus an
optional state_dict, exported with torch's TorchScript exporter (one self-contained .onnx file).

The dynamo exporter is torch's default but writes weights to a separate .onnx.data file and needs
onnxscript; the legacy path gives one file, which is what a bundle wants.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exporters.errors import SourceError, UsageError
from exporters.sources import Loaded, SourceSpec, infer_task


def _factory(spec: str) -> Callable[[], Any]:
    module_ref, _, name = spec.rpartition(":")
    if not module_ref or not name:
        raise UsageError(f"{spec}: expected path.py:factory or package.module:factory")
    if module_ref.endswith(".py"):
        path = Path(module_ref)
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
        mod_name = f"_edge_export_{path.stem}"
        mspec = importlib.util.spec_from_file_location(mod_name, path)
        if mspec is None or mspec.loader is None:
            raise SourceError(f"{path}: cannot import")
        module = importlib.util.module_from_spec(mspec)
        sys.modules[mod_name] = module
        mspec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as exc:
            raise SourceError(f"{module_ref}: cannot import ({exc})") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SourceError(f"{spec}: {name} is not a callable in {module_ref}")
    return fn  # type: ignore[no-any-return]


def build_module(source: str, weights: Path | None) -> Any:
    """The factory's nn.Module with `weights` (a state_dict) loaded, in eval mode; also what
    exporters/compress/prune.py prunes and the QAT rung fine-tunes."""
    import torch

    model = _factory(source)()
    if not isinstance(model, torch.nn.Module):
        raise SourceError(f"{source} returned {type(model).__name__}, expected a torch.nn.Module")
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for corrupt or foreign files
            raise SourceError(f"{weights}: cannot load a state_dict ({exc})") from exc
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise SourceError(f"{weights}: does not fit the model ({exc})") from exc
    return model.eval()


def load(spec: SourceSpec, workdir: Path) -> Loaded:
    if spec.input_shape is None:
        raise UsageError("a PyTorch source needs --input-shape (e.g. 1,3,224,224)")
    model = build_module(spec.source, spec.weights)
    dst = export_onnx(model, spec.input_shape, workdir / "source.onnx", spec.opset)
    from exporters.sources.onnx_file import io_shapes

    task, head = infer_task(io_shapes(dst))
    preset = "imagenet" if len(spec.input_shape) == 4 and spec.input_shape[1] == 3 else None
    return Loaded(
        onnx_path=dst,
        kind="torch",
        task=spec.task or task,
        head=head,
        preprocess_preset=preset,
        notes={"factory": spec.source, "weights": str(spec.weights) if spec.weights else None},
    )


def export_onnx(model: Any, input_shape: tuple[int, ...], dst: Path, opset: int) -> Path:
    """`model` as one self-contained ONNX file with input "input" and output "output", batch dynamic."""
    import torch

    dummy = torch.zeros(input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter warns that it is legacy, on purpose
        torch.onnx.export(
            model,
            (dummy,),
            str(dst),
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    return dst
