"""The text pipeline's inputs, one module per `source.kind`; `factory.text_source` builds the one a
config names. Every input judges what it reads at edge_agent.text.frames' boundary."""
