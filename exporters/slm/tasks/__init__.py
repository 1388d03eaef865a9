"""Example tasks a small language model is tuned for (docs/slm.md, "Fine-tuning"): data generators with
held-out splits, and the prompt each task is asked with."""
