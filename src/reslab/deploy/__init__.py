"""Shipping a trained model: predicting with it (Predictor) and exporting it, BN folded and checked (ONNX,
TorchScript, torch.export)."""
