"""Exceptions raised by the device side. Each carries what went wrong; the CLI prints one line."""

from __future__ import annotations

from dataclasses import dataclass

# Ctrl-C that reaches a CLI entry point (edge-agent, edge-export): 128 + SIGINT, the shell's convention.
EXIT_INTERRUPTED = 130


class EdgeAgentError(Exception):
    """Base class: anything the agent refuses, with a message a person can act on."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file: where it is, what was found and what was expected."""

    path: str
    line: int | None
    message: str
    value: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "line ?"
        got = f" (got {self.value})" if self.value is not None else ""
        return f"{self.path or '<root>'} ({where}): {self.message}{got}"


class ConfigError(EdgeAgentError):
    """A config file that cannot be used; `issues` lists every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        if len(issues) == 1:  # one problem, one line
            super().__init__(f"{source}: {issues[0]}")
            return
        lines = "\n".join(f"  {i}" for i in issues)
        super().__init__(f"{source}: {len(issues)} error(s)\n{lines}")


class ModelError(EdgeAgentError):
    """A model or bundle that cannot be loaded or does not match its settings."""


class BundleError(ModelError):
    """A bundle whose manifest, checksums or signature do not verify."""


class ProviderError(ModelError):
    """The execution providers asked for could not be used (e.g. a required accelerator is missing)."""


class SourceError(EdgeAgentError):
    """A frame/sample source that cannot be opened or read."""


class OutboxError(EdgeAgentError):
    """The durable outbox could not store or read a result."""


class PublishError(EdgeAgentError):
    """The MQTT publisher could not be set up (bad TLS files, credentials...)."""


class CommandError(EdgeAgentError):
    """A command that is refused; `code` is the machine-readable reason sent back in the reply."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


class UpdateError(EdgeAgentError):
    """A model update step that failed (fetch, verify, canary, swap, health); the old bundle stays."""

    def __init__(self, step: str, reason: str) -> None:
        self.step = step
        self.reason = reason
        super().__init__(f"update failed at {step}: {reason}")


class FleetError(EdgeAgentError):
    """A fleet-side operation (collect, watch, send, deploy) that cannot proceed."""
