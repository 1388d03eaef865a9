"""Commands on `<prefix>/<device>/cmd/<verb>`: parsing, validation, optional signatures, dispatch, replies."""

from edge_agent.commands.control import AgentControl, UpdateService
from edge_agent.commands.handler import ERROR_CODES, CommandHandler, RequestMeta
from edge_agent.commands.schema import VERBS
from edge_agent.commands.signing import CommandVerifier, sign_command

__all__ = [
    "ERROR_CODES",
    "VERBS",
    "AgentControl",
    "CommandHandler",
    "CommandVerifier",
    "RequestMeta",
    "UpdateService",
    "sign_command",
]
