"""Motion gating: decide cheaply whether a video frame is worth running the model on."""
