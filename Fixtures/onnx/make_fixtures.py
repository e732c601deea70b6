#!/usr/bin/env python3
"""Makes the ONNX fixtures with the real exporter: torch.onnx.export (the TorchScript-based exporter,
dynamo=False, which needs no onnxscript) of small nn.Sequential models of the family CNNKit imports
(Schemas/onnx.md section 4), and onnxruntime's probabilities on fixed inputs.

    /work/main/.venv/bin/python Fixtures/onnx/make_fixtures.py

Writes, for each NAME: NAME.onnx, NAME.inputs.npy (NHWC raw pixels, as `cnnkit predict` reads them) and
NAME.expected.json (onnxruntime's output on those inputs, NCHW, with a softmax applied when the graph ends in
logits, as CNNKit adds one). Tools: torch 2.13.0+cpu, onnx 1.23.2, onnxruntime 1.32.0 (Tests/Interop/requirements.txt).
"""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

HERE = Path(__file__).resolve().parent


class Preprocess(nn.Module):
    """(x - mean) / std on raw pixels, exported as Sub and Div by constants."""

    def __init__(self, inner, mean, std):
        super().__init__()
        self.inner, self.mean, self.std = inner, mean, std

    def forward(self, x):
        return self.inner((x - self.mean) / self.std)


class MatMulHead(nn.Module):
    """Conv features, a Reshape to [-1, n] and a dense layer written as x @ W + b: MatMul and Add nodes."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.w = nn.Parameter(torch.randn(3 * 3 * 3, 4))
        self.b = nn.Parameter(torch.randn(4))

    def forward(self, x):
        return torch.softmax(self.features(x).reshape(-1, 27) @ self.w + self.b, dim=1)


def models():
    torch.manual_seed(20261202)
    yield "conv_pre", Preprocess(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 3)), 127.5, 255.0), (1, 8, 8)
    yield "two_conv_softmax", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 5, 2), nn.ReLU(),
                                            nn.Flatten(), nn.Linear(5 * 3 * 3, 6), nn.ReLU(), nn.Linear(6, 4), nn.Softmax(dim=1)), (3, 8, 8)
    yield "matmul_reshape", MatMulHead(), (2, 8, 8)
    yield "unsupported_tanh", nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)), (1, 6, 6)


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    rng = np.random.default_rng(7)
    for name, module, (c, h, w) in models():
        module.eval()
        for p in module.parameters():
            p.data.mul_(2)
        path = HERE / f"{name}.onnx"
        torch.onnx.export(module, (torch.zeros(1, c, h, w),), path, dynamo=False, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
        onnx.checker.check_model(onnx.load(path), full_check=True)
        images = rng.integers(0, 256, size=(5, h, w, c)).astype(np.float32)
        np.save(HERE / f"{name}.inputs.npy", images)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = session.run(None, {"input": images.transpose(0, 3, 1, 2)})[0].astype(np.float64)
        ops = [n.op_type for n in onnx.load(path).graph.node]
        if ops[-1] != "Softmax":
            out = softmax(out)
        (HERE / f"{name}.expected.json").write_text(json.dumps({"ops": ops, "probabilities": out.tolist()}, indent=1) + "\n")
        print(f"{path.name}: {path.stat().st_size} bytes, nodes {ops}")


if __name__ == "__main__":
    main()
