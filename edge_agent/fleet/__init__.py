"""The fleet side: tools that run next to the central broker (collect, watch, send, deploy, fusion)."""
