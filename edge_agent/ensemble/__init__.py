"""Small models together: N models voting on the same input, or a cascade that calls a larger
model only when a small one is unsure."""
