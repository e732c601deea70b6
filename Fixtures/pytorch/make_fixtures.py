"""Makes the PyTorch fixtures with real torch (Tests/Interop/requirements.txt pins it): small nn.Sequential state
dicts saved by torch.save, their expected outputs, and the refusals (legacy format, TorchScript).

    .venv/bin/python Fixtures/pytorch/make_fixtures.py

Each model's expected probabilities for the probe images (`<name>.expected.json`) come from the torch module
itself in float32 (pixels drawn from [0, 4), so that the probabilities are not saturated) followed by a softmax over its logits (CNNKit computes in float32 and adds the softmax:
Schemas/pytorch.md section 3). The seeds
are fixed, so a rerun with the same torch makes the same values (torch's zip records carry a random
serialization id, so the bytes differ).
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent


def models():
    """name -> (module, input shape C, H, W, save dtype). two_conv_hidden is not square and its pools drop a row,
    so it is read with --architecture (two_conv_hidden.arch.json); the others are inferred."""
    torch.manual_seed(0)
    yield "conv_relu_pool", nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 5 * 5, 3)), (1, 12, 12), torch.float32
    torch.manual_seed(1)
    yield "two_conv_hidden", nn.Sequential(
        nn.Conv2d(3, 4, (3, 2)), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 5, 3, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(5 * 2 * 3, 6), nn.ReLU(), nn.Linear(6, 4)), (3, 16, 17), torch.float32
    torch.manual_seed(2)
    yield "float64", nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)), (1, 6, 6), torch.float64
    torch.manual_seed(3)
    yield "float16", nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3)), (1, 6, 6), torch.float16
    torch.manual_seed(4)
    yield "bfloat16", nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3)), (1, 6, 6), torch.bfloat16
    torch.manual_seed(7)
    yield "two_conv_inferred", nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(6 * 5 * 5, 16), nn.ReLU(), nn.Linear(16, 10)), (1, 26, 26), torch.float32


def main():
    for name, module, (c, h, w), dtype in models():
        module = module.to(dtype)
        torch.save(module.state_dict(), HERE / f"{name}.pt")
        rng = np.random.default_rng(0)
        images = (rng.random(size=(4, h, w, c)) * 4).astype(np.float32)
        with torch.no_grad():
            # In float32, as CNNKit computes (the stored float16/bfloat16/float64 weights widened or rounded).
            x = torch.from_numpy(images).permute(0, 3, 1, 2)
            probabilities = torch.softmax(module.float()(x), dim=1).numpy()
        np.save(HERE / f"{name}.inputs.npy", images)
        (HERE / f"{name}.expected.json").write_text(json.dumps({"probabilities": probabilities.tolist()}, indent=1) + "\n")

    # A state dict whose Linear weight is a transposed (non-contiguous) view: explicit strides.
    torch.manual_seed(5)
    module = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    state = module.state_dict()
    state["2.weight"] = state["2.weight"].t().contiguous().t()
    assert not state["2.weight"].is_contiguous()
    torch.save(state, HERE / "strided.pt")
    rng = np.random.default_rng(0)
    images = (rng.random(size=(4, 6, 6, 1)) * 4).astype(np.float32)
    with torch.no_grad():
        probabilities = torch.softmax(module(torch.from_numpy(images).permute(0, 3, 1, 2)), dim=1).numpy()
    np.save(HERE / "strided.inputs.npy", images)
    (HERE / "strided.expected.json").write_text(json.dumps({"probabilities": probabilities.tolist()}, indent=1) + "\n")

    # Refusals.
    torch.manual_seed(0)
    small = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    torch.save(small.state_dict(), HERE / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(small), HERE / "torchscript.pt")
    # conv -> one parameterless layer -> conv: ReLU or MaxPool2d(2) both fit.
    torch.manual_seed(6)
    ambiguous = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    torch.save(ambiguous.state_dict(), HERE / "ambiguous.pt")


if __name__ == "__main__":
    main()
