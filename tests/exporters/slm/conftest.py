"""SLM bundles built from the shipped SmolLM2 GGUF, once per session, with a work folder cached
across sessions (the dequantized GGUF and each precision's genai build), like tests/slm_models.py.

The work folder links the HF folder tests/slm_models.py already converted, so a session converts the
GGUF at most once for every SLM test; the builds in it are reused when their stamp matches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from slm_export_helpers import EVAL_SET, TRIAGE, run_cli

from exporters.slm.source import check_source
from tests import slm_models


@pytest.fixture(scope="session")
def gguf() -> Path:
    return slm_models.shipped_gguf()


@pytest.fixture(scope="session")
def slm_work(gguf: Path) -> Path:
    """The cached work folder: HF folder linked from slm_models, builds kept between sessions."""
    work = slm_models.cache_root() / f"export-work-{slm_models._gguf_key(gguf)}-{slm_models._code_key()}"
    with slm_models._locked(work):
        stamp = work / "hf.source"
        if not stamp.is_file():
            hf = slm_models.hf_dir()
            work.mkdir(parents=True, exist_ok=True)
            link = work / "hf"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(hf, target_is_directory=True)
            stamp.write_text(check_source(gguf).fingerprint, encoding="utf-8")
    return work


@pytest.fixture(scope="session")
def triage_files(session_dir: Path) -> dict[str, Path]:
    spec = session_dir / "slm" / "prompt.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(TRIAGE.model_dump(mode="json", by_alias=True)), encoding="utf-8")
    evals = session_dir / "slm" / "eval.jsonl"
    evals.write_text("".join(json.dumps(r) + "\n" for r in EVAL_SET), encoding="utf-8")
    return {"prompt": spec, "eval": evals}


@pytest.fixture(scope="session")
def int4_bundle(
    gguf: Path, slm_work: Path, session_dir: Path, keypair: tuple[Path, Path], triage_files: dict[str, Path]
) -> dict[str, Any]:
    """`edge-export build GGUF` at int4 alone (no budget: the gate only measures), with the triage
    prompt and eval set; the --json report plus the bundle's path."""
    out = session_dir / "slm" / "triage-int4"
    with slm_models._locked(slm_work):
        code, stdout = run_cli(
            [
                "build",
                str(gguf),
                "--out",
                str(out),
                "--target",
                "generic-x86",
                "--key",
                str(keypair[0]),
                "--work",
                str(slm_work),
                "--precision",
                "int4",
                "--no-ladder",
                "--min-top1",
                "none",
                "--max-kl",
                "none",
                "--max-accuracy-drop",
                "none",
                "--prompt-spec",
                str(triage_files["prompt"]),
                "--eval-set",
                str(triage_files["eval"]),
                "--new-tokens",
                "8",
                "--json",
            ]
        )
    assert code == 0, stdout
    report: dict[str, Any] = json.loads(stdout)
    return report


@pytest.fixture(scope="session")
def ladder_bundle(gguf: Path, slm_work: Path, session_dir: Path, keypair: tuple[Path, Path]) -> Any:
    """The default budget (top-1 ≥ 0.9, KL ≤ 0.1), which SmolLM2's int4 misses: the ladder climbs."""
    from exporters.slm.export import SlmOptions, export_slm

    opts = SlmOptions(
        source=gguf,
        out=session_dir / "slm" / "ladder",
        key=keypair[0],
        work=slm_work,
        measure=False,
    )
    with slm_models._locked(slm_work):
        return export_slm(opts)
