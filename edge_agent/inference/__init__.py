"""Inference: opening sessions on the right execution provider, and turning frames into tensors."""
