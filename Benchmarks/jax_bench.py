#!/usr/bin/env python3
"""JAX (XLA CPU, jit) throughput of CNNKit's seed model and training recipe.

Model (same as CNNKit's default, see Documentation/models.md):
    x = pixel / 255 - 0.5  (inside the model, from raw uint8 pixels)
    conv2d 16 filters 3x3, valid, stride 1, no bias   (NHWC, kernel HWIO)
    maxpool 2x2 stride 2 (26 -> 13)
    flatten in H, W, C order (2704)
    dense 10 with bias, softmax
    loss: softmax cross-entropy averaged over the batch; plain SGD lr 0.005
    init: filters ~ N(0,1)/9, dense ~ N(0,1)/2704, biases 0

Measures on the first N Fashion-MNIST training images:
    train_b1   one pass over N images at batch 1 (one jitted SGD step per image)
    train_b32  one pass over N images at batch 32 (last batch may be partial)
    inference  jitted forward pass (softmax probabilities) over N images at batch 1000

Every shape is compiled and run once before timing; timing ends with
block_until_ready.  Batches are device arrays prepared before timing.

--threads T limits the process to T CPUs (sched_setaffinity, before jax is
imported: XLA sizes its thread pool from the CPUs it may use); with T=1 XLA's
multi-threaded Eigen is also switched off.

Prints one JSON line:
    {"system": "jax 0.10.2", "threads": 2, "images": 20000,
     "train_b1": ..., "train_b32": ..., "inference": ...}
all rates in images/s.  --accuracy additionally trains one epoch over all 60000
training images at batch 1 and reports the test accuracy (to stderr, and as
"test_accuracy" in the JSON line).
"""

import os
import json
import sys
import time

import numpy as np

from bench_common import DATA_DIR, LEARNING_RATE, load as load_split, parse_args as common_args, read_idx  # noqa: F401


def load(split, limit=None):
    return load_split(split, limit, label_dtype=np.int32)


def parse_args():
    return common_args(__doc__.split("\n")[0], "CPUs the process may use (default 2)")


args = parse_args()

# Thread control has to happen before jax (and XLA's thread pool) is created.
try:
    cpus = sorted(os.sched_getaffinity(0))
    if 0 < args.threads < len(cpus):
        os.sched_setaffinity(0, cpus[: args.threads])
except (AttributeError, OSError):
    pass
if args.threads == 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402


def init_params(seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return {
        "conv": jax.random.normal(k1, (3, 3, 1, 16), jnp.float32) / 9.0,       # HWIO
        "dense": jax.random.normal(k2, (2704, 10), jnp.float32) / 2704.0,      # [in, out]
        "bias": jnp.zeros((10,), jnp.float32),
    }


def logits(params, pixels):
    # pixels: uint8 [N, 28, 28]
    x = pixels.astype(jnp.float32)[..., None] * (1.0 / 255.0) - 0.5        # NHWC [N, 28, 28, 1]
    x = lax.conv_general_dilated(x, params["conv"], window_strides=(1, 1), padding="VALID",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))  # [N, 26, 26, 16]
    x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")  # [N, 13, 13, 16]
    x = x.reshape(x.shape[0], -1)                                            # H, W, C order: [N, 2704]
    return x @ params["dense"] + params["bias"]


def loss_fn(params, pixels, labels):
    logp = jax.nn.log_softmax(logits(params, pixels))
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


@jax.jit
def predict(params, pixels):
    return jax.nn.softmax(logits(params, pixels))


def _step(params, pixels, labels):
    grads = jax.grad(loss_fn)(params, pixels, labels)
    return jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)


train_step = jax.jit(_step, donate_argnums=0)


def batches(x, y, batch):
    """Device-resident batches, prepared before timing."""
    out = [(jax.device_put(x[i:i + batch]), jax.device_put(y[i:i + batch])) for i in range(0, x.shape[0], batch)]
    jax.block_until_ready(out)
    return out


def train(params, data):
    for xb, yb in data:
        params = train_step(params, xb, yb)
    return jax.block_until_ready(params)


def train_rate(data, count, seed):
    # Warm-up: compile every batch shape (full and a partial last one) and run a few steps.
    warm = init_params(seed + 1)
    shapes_seen = set()
    warm_batches = []
    for b in data:
        if b[0].shape not in shapes_seen:
            shapes_seen.add(b[0].shape)
            warm_batches.append(b)
    warm_batches += data[: max(1, min(len(data), 2000 // data[0][0].shape[0]))]
    train(warm, warm_batches)
    params = jax.block_until_ready(init_params(seed))
    start = time.perf_counter()
    train(params, data)
    elapsed = time.perf_counter() - start
    return count / elapsed


def run_predict(params, data):
    return jax.block_until_ready([predict(params, xb) for xb, _ in data])


def inference_rate(x, y, seed, batch=1000):
    data = batches(x, y, batch)
    params = jax.block_until_ready(init_params(seed))
    run_predict(params, [data[0], data[-1]])
    run_predict(params, data[:2])
    start = time.perf_counter()
    run_predict(params, data)
    elapsed = time.perf_counter() - start
    return x.shape[0] / elapsed


def shuffled(x, y, seed):
    # One epoch's shuffle, done once before timing (CNNKit shuffles each epoch too).
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    return np.ascontiguousarray(x[perm]), np.ascontiguousarray(y[perm])


def accuracy(seed):
    xtr, ytr = load("train")
    xte, yte = load("test")
    xtr, ytr = shuffled(xtr, ytr, seed)
    params = train(init_params(seed), batches(xtr, ytr, 1))
    probs = np.concatenate(run_predict(params, batches(xte, yte, 1000)))
    return float((probs.argmax(axis=1) == yte).mean())


def main():
    try:
        images, labels = load("train", args.images)
    except (OSError, ValueError) as e:
        print(f"jax_bench: {e}", file=sys.stderr)
        return 66
    images, labels = shuffled(images, labels, args.seed)
    n = int(images.shape[0])

    b1 = train_rate(batches(images, labels, 1), n, args.seed)
    b32 = train_rate(batches(images, labels, 32), n, args.seed)
    result = {
        "system": "jax " + jax.__version__,
        "threads": args.threads,
        "images": n,
        "train_b1": b1,
        "train_b32": b32,
        "inference": inference_rate(images, labels, args.seed),
    }
    if args.accuracy:
        acc = accuracy(args.seed)
        print(f"jax_bench: 1 epoch, batch 1, lr {LEARNING_RATE}: test accuracy {acc:.4f}", file=sys.stderr)
        result["test_accuracy"] = acc
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
