"""Exceptions raised by the exporter. Each carries what went wrong; the CLI prints one line.

Exit codes: 0 ok, 1 failure (including a missed accuracy gate), 2 usage.
"""

from __future__ import annotations

from typing import Any


class ExportError(Exception):
    """Base class: an export that cannot go on, with a message a person can act on."""


class UsageError(ExportError):
    """The command line or options do not make sense together (exit code 2)."""


class SourceError(ExportError):
    """A model source that cannot be loaded or converted to ONNX."""


class UntrustedPickleError(UsageError):
    """A pickle/joblib file was given without --trust-pickle; loading it would run its code."""


class DataError(ExportError):
    """Calibration or held-out data that cannot be read or does not fit the model's inputs."""


class GateFailedError(ExportError):
    """The accuracy gate was missed on every rung of the fallback ladder; no bundle was written.

    `report` holds every rung tried with its metric, so the failure can be read, not guessed.
    """

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


class DeviceCheckError(ExportError):
    """The bundle's figures on the device's kernels (arm64, exporters/device_check.py) miss the gate's
    budget; `report` is the device_check entry, recorded in the bundle report as well."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report
