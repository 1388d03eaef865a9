"""Sources: where frames, audio chunks and sensor windows come from."""
