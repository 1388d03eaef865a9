"""The device's fleet features: what the fleet reaches on this device, beside the data path.

commands/ (`<prefix>/<device>/cmd/<verb>`), update/ (signed model updates with canary and rollback),
ha.py (Home Assistant discovery), metrics.py (Prometheus /metrics), stats/ (the periodic stats
message); config.py is their `fleet:` config block; ports.py the narrow views of the agent they get;
wiring.py builds them from those views. The central side, which runs on the operator's machine and
talks to these over MQTT, is edge_agent/fleet/.

The data path (sources → pipeline → outbox → publish) never imports this package (the config schema
imports only `config`), and nothing here imports edge_agent.agent (tests/test_import_layers.py).
Nothing is imported here, so the config schema can import `config` without pulling in the rest.
"""
