"""The README's first command: a real model on a real video, results arriving over MQTT."""
