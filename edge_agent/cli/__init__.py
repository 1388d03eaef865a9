"""Command line: `edge-agent <command>`; each command lives in its own module with a `register()`."""
