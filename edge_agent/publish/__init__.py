"""Publishing: the agent's one MQTT connection (`mqtt.py`) and the result payload's schema (`schema.py`)."""
