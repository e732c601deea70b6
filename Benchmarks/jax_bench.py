#!/usr/bin/env python3
"""JAX (XLA CPU, jit) throughput of CNNKit's seed model and training recipe (or --network two-conv / wide).

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

from bench_common import DATA_DIR, LEARNING_RATE, NETWORKS, load as load_split, parse_args as common_args, read_idx  # noqa: F401


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


SPEC = NETWORKS[args.network]


def conv(x, kernel):
    return lax.conv_general_dilated(x, kernel, window_strides=(1, 1), padding="VALID",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def init_params(seed):
    if SPEC is None:
        k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
        return {
            "conv": jax.random.normal(k1, (3, 3, 1, 16), jnp.float32) / 9.0,       # HWIO
            "dense": jax.random.normal(k2, (2704, 10), jnp.float32) / 2704.0,      # [in, out]
            "bias": jnp.zeros((10,), jnp.float32),
        }
    (c1, c2), units = SPEC["convs"], SPEC["units"]
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    return {
        "conv1": jax.random.normal(k[0], (3, 3, 1, c1), jnp.float32) / 3.0, "b1": jnp.zeros((c1,), jnp.float32),
        "conv2": jax.random.normal(k[1], (3, 3, c1, c2), jnp.float32) / (9 * c1) ** 0.5, "b2": jnp.zeros((c2,), jnp.float32),
        "dense1": jax.random.normal(k[2], (25 * c2, units), jnp.float32) / (25 * c2) ** 0.5, "b3": jnp.zeros((units,), jnp.float32),
        "dense2": jax.random.normal(k[3], (units, 10), jnp.float32) / units ** 0.5, "b4": jnp.zeros((10,), jnp.float32),
    }


def logits(params, pixels):
    # pixels: uint8 [N, 28, 28]
    x = pixels.astype(jnp.float32)[..., None] * (1.0 / 255.0) - 0.5        # NHWC [N, 28, 28, 1]
    if SPEC is None:
        x = pool(conv(x, params["conv"]))                                    # [N, 13, 13, 16]
        x = x.reshape(x.shape[0], -1)                                        # H, W, C order: [N, 2704]
        return x @ params["dense"] + params["bias"]
    x = pool(jax.nn.relu(conv(x, params["conv1"]) + params["b1"]))
    x = pool(jax.nn.relu(conv(x, params["conv2"]) + params["b2"]))
    x = jax.nn.relu(x.reshape(x.shape[0], -1) @ params["dense1"] + params["b3"])
    return x @ params["dense2"] + params["b4"]


def loss_fn(params, pixels, labels):
    logp = jax.nn.log_softmax(logits(params, pixels))
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


@jax.jit
def predict(params, pixels):
    return jax.nn.softmax(logits(params, pixels))


def _sgd_step(params, pixels, labels):
    grads = jax.grad(loss_fn)(params, pixels, labels)
    return jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)


def _adam_step(state, pixels, labels, beta1=0.9, beta2=0.999, eps=1e-7):
    # Keras' Adam, as CNNKit's (Sources/ConvNet/Optimizer.swift).
    params, m, v, t = state
    grads = jax.grad(loss_fn)(params, pixels, labels)
    t = t + 1
    alpha = SPEC["learning_rate"] * jnp.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - beta1), m, grads)
    v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - beta2), v, grads)
    params = jax.tree_util.tree_map(lambda p, m, v: p - m * alpha / (jnp.sqrt(v) + eps), params, m, v)
    return params, m, v, t


def initial_state(seed):
    params = init_params(seed)
    if SPEC is None:
        return params
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.float32(0)


train_step = jax.jit(_sgd_step if SPEC is None else _adam_step, donate_argnums=0)


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
    warm = initial_state(seed + 1)
    shapes_seen = set()
    warm_batches = []
    for b in data:
        if b[0].shape not in shapes_seen:
            shapes_seen.add(b[0].shape)
            warm_batches.append(b)
    warm_batches += data[: max(1, min(len(data), 2000 // data[0][0].shape[0]))]
    train(warm, warm_batches)
    params = jax.block_until_ready(initial_state(seed))
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
    params = train(initial_state(seed), batches(xtr, ytr, 1))
    params = params if SPEC is None else params[0]
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
        "network": args.network,
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
