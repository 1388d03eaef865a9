"""Keyword spotting: espeak-ng example data, augmented clips, an in-graph log-mel CNN, a silero-vad
cascade front; `edge-export train audio` (docs/kws.md)."""
