#!/usr/bin/env python3
"""PyTorch (CPU) throughput of CNNKit's seed model and training recipe (or --network two-conv / wide).

Model (same as CNNKit's default, see Documentation/models.md):
    x = pixel / 255 - 0.5  (inside the model, from raw uint8 pixels)
    conv2d 16 filters 3x3, valid, stride 1, no bias
    maxpool 2x2 stride 2 (26 -> 13)
    flatten in H, W, C order (2704)
    dense 10 with bias, softmax
    loss: softmax cross-entropy averaged over the batch; plain SGD lr 0.005
    init: filters ~ N(0,1)/9, dense ~ N(0,1)/2704, biases 0

Measures on the first N Fashion-MNIST training images:
    train_b1   one pass over N images at batch 1 (one optimizer step per image)
    train_b32  one pass over N images at batch 32 (last batch may be partial)
    inference  forward pass (softmax probabilities) over N images at batch 1000

Prints one JSON line:
    {"system": "pytorch 2.13.0", "threads": 2, "images": 20000,
     "train_b1": ..., "train_b32": ..., "inference": ...}
all rates in images/s.  --accuracy additionally trains one epoch over all 60000
training images at batch 1 and reports the test accuracy (to stderr, and as
"test_accuracy" in the JSON line).
"""

import json
import sys
import time

import numpy as np

from bench_common import DATA_DIR, LEARNING_RATE, NETWORKS, load as load_split, parse_args as common_args, read_idx  # noqa: F401


def load(split, limit=None):
    return load_split(split, limit, label_dtype=np.int64)


def parse_args():
    return common_args(__doc__.split("\n")[0], "torch.set_num_threads (default 2)")


args = parse_args()

import torch  # noqa: E402  (after argparse so --help is fast)
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)


class SeedNet(torch.nn.Module):
    def __init__(self, generator):
        super().__init__()
        # PyTorch conv weight layout is [out, in, kh, kw]; exchange layout would be [kh, kw, in, out].
        self.conv = torch.nn.Parameter(torch.randn(16, 1, 3, 3, generator=generator) / 9.0)
        # Dense kernel in exchange layout [in, out]; rows are in H, W, C order.
        self.dense = torch.nn.Parameter(torch.randn(2704, 10, generator=generator) / 2704.0)
        self.bias = torch.nn.Parameter(torch.zeros(10))

    def logits(self, pixels):
        # pixels: uint8 [N, 28, 28] (NHWC with C=1 has the same memory layout as NCHW with C=1)
        x = pixels.unsqueeze(1).to(torch.float32) * (1.0 / 255.0) - 0.5
        x = F.conv2d(x, self.conv)                 # [N, 16, 26, 26]
        x = F.max_pool2d(x, 2, 2)                  # [N, 16, 13, 13]
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # H, W, C order: [N, 2704]
        return x @ self.dense + self.bias

    def forward(self, pixels):
        return torch.softmax(self.logits(pixels), dim=1)


class TwoConvNet(torch.nn.Module):
    """conv(c1) - relu - pool - conv(c2) - relu - pool - dense(units) - relu - dense 10 (--network two-conv, wide)."""

    def __init__(self, spec):
        super().__init__()
        c1, c2 = spec["convs"]
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, c1, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(c1, c2, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(c2 * 5 * 5, spec["units"]), torch.nn.ReLU(),
            torch.nn.Linear(spec["units"], 10))

    def logits(self, pixels):
        return self.body(pixels.unsqueeze(1).to(torch.float32) * (1.0 / 255.0) - 0.5)

    def forward(self, pixels):
        return torch.softmax(self.logits(pixels), dim=1)


SPEC = NETWORKS[args.network]


def new_model(seed):
    g = torch.Generator().manual_seed(seed)
    if SPEC is None:
        return SeedNet(g)
    torch.manual_seed(seed)
    return TwoConvNet(SPEC)


def new_optimizer(model):
    if SPEC is None:
        return torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0)
    return torch.optim.Adam(model.parameters(), lr=SPEC["learning_rate"], eps=1e-7)


def batches(x, y, batch):
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, x.shape[0], batch)]


def train(model, data):
    model.train()
    optimizer = new_optimizer(model)
    for xb, yb in data:
        optimizer.zero_grad(set_to_none=True)
        # cross_entropy on logits == softmax followed by cross-entropy, averaged over the batch
        loss = F.cross_entropy(model.logits(xb), yb)
        loss.backward()
        optimizer.step()
    return loss


def train_rate(x, y, batch, seed):
    data = batches(x, y, batch)
    warm = new_model(seed + 1)
    train(warm, data[: max(1, min(len(data), 2000 // batch))])
    model = new_model(seed)
    start = time.perf_counter()
    train(model, data)
    elapsed = time.perf_counter() - start
    return x.shape[0] / elapsed


def predict(model, data):
    model.eval()
    with torch.inference_mode():
        return [model(xb) for xb, _ in data]


def inference_rate(x, y, seed, batch=1000):
    data = batches(x, y, batch)
    model = new_model(seed)
    predict(model, data[:2])
    start = time.perf_counter()
    predict(model, data)
    elapsed = time.perf_counter() - start
    return x.shape[0] / elapsed


def accuracy(seed):
    xtr, ytr = load("train")
    xte, yte = load("test")
    xtr, ytr = shuffled(xtr, ytr, seed)
    model = new_model(seed)
    train(model, batches(torch.from_numpy(xtr), torch.from_numpy(ytr), 1))
    probs = torch.cat(predict(model, batches(torch.from_numpy(xte), torch.from_numpy(yte), 1000)))
    return float((probs.argmax(dim=1).numpy() == yte).mean())


def shuffled(x, y, seed):
    # One epoch's shuffle, done once before timing (CNNKit shuffles each epoch too).
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    return np.ascontiguousarray(x[perm]), np.ascontiguousarray(y[perm])


def main():
    try:
        images, labels = load("train", args.images)
    except (OSError, ValueError) as e:
        print(f"torch_bench: {e}", file=sys.stderr)
        return 66
    images, labels = shuffled(images, labels, args.seed)
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels)

    result = {
        "system": "pytorch " + torch.__version__.split("+")[0],
        "network": args.network,
        "threads": args.threads,
        "images": int(x.shape[0]),
        "train_b1": train_rate(x, y, 1, args.seed),
        "train_b32": train_rate(x, y, 32, args.seed),
        "inference": inference_rate(x, y, args.seed),
    }
    if args.accuracy:
        acc = accuracy(args.seed)
        print(f"torch_bench: 1 epoch, batch 1, lr {LEARNING_RATE}: test accuracy {acc:.4f}", file=sys.stderr)
        result["test_accuracy"] = acc
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
