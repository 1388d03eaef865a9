"""TLS and mTLS on a paho client: the one setup for every MQTT connection the project opens.

Used by the agent's publisher (`mqtt.tls`) and the fleet tools (`--ca-file`, `--cert-file`...), so both
check that the files exist, require a verified server certificate and use the same protocol.
A leaf module: it imports nothing of the project; callers turn `TlsSetupError` into their own error.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Protocol


class TlsClient(Protocol):
    """The part of `paho.mqtt.client.Client` the setup uses."""

    def tls_set(
        self,
        ca_certs: str | None = ...,
        certfile: str | None = ...,
        keyfile: str | None = ...,
        cert_reqs: ssl.VerifyMode | None = ...,
        tls_version: int | None = ...,
    ) -> None: ...

    def tls_insecure_set(self, value: bool) -> None: ...


class TlsSetupError(ValueError):
    """TLS cannot be set up; `field` names the file setting at fault (ca_file, cert_file, key_file)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


def configure_tls(
    client: TlsClient,
    *,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    insecure: bool = False,
) -> None:
    """Check the files, then `tls_set` (server certificate required) and `tls_insecure_set(insecure)`.

    A missing file raises `TlsSetupError("<field>: file not found: <path>", field)`; files paho or
    OpenSSL cannot use raise `TlsSetupError("cannot use the TLS files: ...")`.
    """
    for field, f in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
        if f is not None and not Path(f).is_file():
            raise TlsSetupError(f"{field}: file not found: {f}", field)
    try:
        client.tls_set(
            ca_certs=str(ca_file) if ca_file else None,
            certfile=str(cert_file) if cert_file else None,
            keyfile=str(key_file) if key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TlsSetupError(f"cannot use the TLS files: {exc}") from exc
    client.tls_insecure_set(insecure)
