"""Commands on `<prefix>/<device>/cmd/<verb>`: parsing, validation, optional signatures, dispatch, replies.

Modules: control (the AgentControl protocol), schema (verbs and arguments), handler (CommandHandler),
signing (ed25519-signed commands), mqtt (CommandServer), config_patch (`set`). Their `fleet:` config
block is edge_agent/remote/config.py; the wiring to a running agent is edge_agent/remote/wiring.py.
"""
