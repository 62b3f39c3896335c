"""An ONNX export of a saved classifier, run without PyTorch: the folder's format (folder.py) and the
onnxruntime session that reads it (session.py). `hf-transfer export` (hf_transfer/onnx_export.py) writes it."""
