"""Model compression before the build: knowledge distillation (`distill.py`) and structured channel
pruning (`prune.py`), both tuned for one job on unlabelled images and ending in the normal
`edge-export build` (quantize, gate, signed bundle).

Shared parts: `images.py` (image folders → tensors with the agent's own preprocessing, the teacher's
soft targets), `kd.py` (the distillation loss and training loop), `stats.py` (parameters, MACs,
latency and energy of a variant).
"""
