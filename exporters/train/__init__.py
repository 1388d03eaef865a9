"""`edge-export train`: transfer learning from a folder of labelled examples to a signed bundle.

`loop.fit` is the one training loop (images, sensor windows, audio keywords in `kws/`); `data`
reads labelled examples; `images` and `sensor` are the trainers; `export` turns a trained module
into a bundle through `exporters.pipeline.export_model`.
"""
