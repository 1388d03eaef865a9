"""Secrets: $CREDENTIALS_DIRECTORY first, then the environment; empty means absent."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_empty_credential_counts_as_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_agent.credentials import read_secret

    (tmp_path / "mqtt-password").write_text("\n")  # the unit's SetCredential= default
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.delenv("MY_PW", raising=False)
    assert read_secret("mqtt-password", "MY_PW") is None
    monkeypatch.setenv("MY_PW", "from-env")
    assert read_secret("mqtt-password", "MY_PW") == "from-env"
