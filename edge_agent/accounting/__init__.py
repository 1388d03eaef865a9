"""CPU-seconds per result by pipeline stage, and an energy estimate from the hardware profile."""
