"""Sliding windows over sensor readings, and the features computed from each window."""
