"""Hugging Face source: optimum's ONNX export of a model directory (or a hub id in the local cache).

A directory with `modules.json` is a sentence-transformers model: exported with that library so
the graph includes pooling (`sentence_embedding` output). Tokenizer files are kept for the bundle.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from exporters.errors import SourceError
from exporters.sources import Loaded, SourceSpec, infer_task

log = logging.getLogger(__name__)

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "merges.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
)

_TASKS = {"feature-extraction": "embedding", "sentence-similarity": "embedding"}


def load(spec: SourceSpec, workdir: Path) -> Loaded:
    src = Path(spec.source)
    local = src.is_dir()
    if local:
        # Never reach for the network with a local directory; the hub is not needed.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    library = "sentence_transformers" if local and (src / "modules.json").is_file() else None
    hf_task = spec.task and {"embedding": "feature-extraction", "classification": "text-classification"}.get(
        spec.task, spec.task
    )
    if library == "sentence_transformers":
        hf_task = "feature-extraction"
    elif local and not hf_task:
        hf_task = _local_task(src)
    out = workdir / "hf"
    from optimum.exporters.onnx import main_export

    try:
        main_export(
            spec.source,
            output=out,
            task=hf_task or "auto",
            opset=spec.opset,
            library_name=library,
            do_validation=False,
            device="cpu",
        )
    except Exception as exc:  # optimum/transformers raise many types; all mean "cannot export"
        raise SourceError(f"{spec.source}: optimum cannot export it ({type(exc).__name__}: {exc})") from exc
    model = out / "model.onnx"
    if not model.is_file():
        raise SourceError(
            f"{spec.source}: optimum wrote no model.onnx (encoder-decoder models are not supported)"
        )
    text_dir = workdir / "tokenizer"
    text_dir.mkdir(exist_ok=True)
    for name in TOKENIZER_FILES:
        for base in (out, src if local else out):
            if (base / name).is_file():
                shutil.copyfile(base / name, text_dir / name)
                break
    from exporters.sources.onnx_file import io_shapes

    guessed, head = infer_task(io_shapes(model))
    task = spec.task or _TASKS.get(hf_task or "", guessed)
    labels = None
    if task == "classification":
        cfg = json.loads((out / "config.json").read_text()) if (out / "config.json").is_file() else {}
        id2label = cfg.get("id2label") or {}
        labels = [id2label[k] for k in sorted(id2label, key=int)] if id2label else None
    return Loaded(
        onnx_path=model,
        kind="huggingface",
        task=task,
        head=head,
        text_dir=text_dir if any(text_dir.iterdir()) else None,
        labels=labels,
        notes={"library": library or "transformers", "hf_task": hf_task or "auto"},
    )


def _local_task(src: Path) -> str | None:
    """The optimum task of a local model directory, from its config.json's `architectures`.

    optimum infers a task only for hub ids ("Cannot infer the task from a local directory yet"),
    though the class saved in config.json names it: BertForSequenceClassification is
    text-classification, ViTForImageClassification image-classification, BertModel
    feature-extraction. None when the config names no class optimum knows.
    """
    try:
        cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    import transformers
    from optimum.exporters.tasks import TasksManager

    for arch in cfg.get("architectures") or []:
        cls = getattr(transformers, str(arch), None)
        if cls is None:
            continue
        try:
            return str(TasksManager._infer_task_from_model_or_model_class(model_class=cls))
        except ValueError:
            continue
    return None
