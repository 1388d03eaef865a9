"""Architectures the exporter trains, distills, prunes and quantizes (pure PyTorch, no torchvision)."""
