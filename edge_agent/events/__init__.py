"""Event logic: per-frame outputs in, state-change events out (start/end, appeared/left, counts)."""
