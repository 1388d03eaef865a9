"""Secrets come from the environment or systemd's $CREDENTIALS_DIRECTORY, never from the YAML file."""

from __future__ import annotations

import os
from pathlib import Path


def read_secret(credential: str, env: str | None = None) -> str | None:
    """Return the secret named `credential` from $CREDENTIALS_DIRECTORY, else from env var `env`.

    An empty value counts as absent: the systemd unit gives every credential an empty default
    (SetCredential=) so that a missing file does not fail the start.
    """
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        f = Path(cred_dir) / credential
        if f.is_file():
            value = f.read_text(encoding="utf-8").strip("\r\n")
            if value:
                return value
    if env:
        return os.environ.get(env) or None
    return None


def credential_path(name: str) -> Path | None:
    """A file handed over by systemd LoadCredential=, if present (TLS keys, signing keys)."""
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / name).is_file():
        return Path(cred_dir) / name
    return None
