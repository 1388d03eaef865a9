"""Commands on `<prefix>/<device>/cmd/<verb>`: parsing, validation, optional signatures, dispatch, replies.

Modules: control (the AgentControl protocol), schema (verbs and arguments), handler (CommandHandler),
signing (ed25519-signed commands), mqtt (CommandServer), config_patch (`set`), settings (the `fleet:`
config block); the wiring to a running Agent is edge_agent/device_fleet.py. Nothing is imported here,
so the config schema can import `settings` without pulling in the rest.
"""
