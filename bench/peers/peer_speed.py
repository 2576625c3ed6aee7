#!/usr/bin/env python3
"""Peer throughput for bench/peers/stacks.ts: the package's `seed`, `lean` and `strong` networks, layer
for layer, in Keras 3 on TensorFlow's CPU build or in PyTorch 2's CPU wheel (both on oneDNN). Adam,
batch norm and dropout in training mode, random data (it costs what digits cost).

usage: peer_speed.py keras|torch NET [BATCH] [THREADS] [STEPS]
prints: '<stack> <net> train img/s A predict img/s B'

Training: 5 warm-up steps (tracing, oneDNN's primitive caches), then STEPS timed ones (default 60). Prediction: 8,192
images in batches of 256 after one warm-up batch. PyTorch is timed in both memory formats and keeps
the faster, as its own tuning guides advise trying both.
"""
import os
import sys
import time

stack = sys.argv[1]
net = sys.argv[2]
bs = int(sys.argv[3]) if len(sys.argv) > 3 else 64
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
STEPS = int(sys.argv[5]) if len(sys.argv) > 5 else 60
PREDICT = 8192
if stack not in ("keras", "torch") or net not in ("seed", "lean", "strong"):
    sys.exit(__doc__)


def keras_run():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    from keras import layers as L

    def block(f, k, s=1, padding=None):
        pad = padding or ("same" if s > 1 else "valid")
        return [L.Conv2D(f, k, strides=s, padding=pad, use_bias=False), L.BatchNormalization(), L.Activation("relu")]

    nets = {
        "seed": lambda: [L.Conv2D(100, 5, activation="relu"), L.Conv2D(50, 5, activation="relu"), L.Flatten(),
                         L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")],
        "lean": lambda: [*block(32, 3, padding="same"), L.MaxPooling2D(2), *block(64, 3), *block(64, 3),
                         L.MaxPooling2D(2), L.Dropout(0.3), *block(128, 3), L.Flatten(), L.Dropout(0.4),
                         L.Dense(10, activation="softmax")],
        "strong": lambda: [*block(32, 3), *block(32, 3), *block(32, 5, 2), L.Dropout(0.4), *block(64, 3),
                           *block(64, 3), *block(64, 5, 2), L.Dropout(0.4), *block(128, 4), L.Flatten(),
                           L.Dropout(0.4), L.Dense(10, activation="softmax")],
    }
    m = keras.Sequential([keras.Input((28, 28, 1)), *nets[net]()])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    n = bs * STEPS
    x = np.random.rand(n, 28, 28, 1).astype("float32")
    y = np.random.randint(0, 10, n)
    m.fit(x[: bs * 5], y[: bs * 5], batch_size=bs, epochs=1, verbose=0)
    t = time.perf_counter()
    m.fit(x, y, batch_size=bs, epochs=1, verbose=0)
    train = n / (time.perf_counter() - t)
    xt = np.random.rand(PREDICT, 28, 28, 1).astype("float32")
    m.predict(xt[:256], batch_size=256, verbose=0)
    t = time.perf_counter()
    m.predict(xt, batch_size=256, verbose=0)
    return train, PREDICT / (time.perf_counter() - t)


def torch_run():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)

    def block(ci, co, k, s=1, pad=0):
        return [nn.Conv2d(ci, co, k, stride=s, padding=pad, bias=False), nn.BatchNorm2d(co), nn.ReLU()]

    nets = {
        "seed": lambda: [nn.Conv2d(1, 100, 5), nn.ReLU(), nn.Conv2d(100, 50, 5), nn.ReLU(), nn.Flatten(),
                         nn.Linear(20000, 128), nn.ReLU(), nn.Linear(128, 10)],
        "lean": lambda: [*block(1, 32, 3, pad=1), nn.MaxPool2d(2), *block(32, 64, 3), *block(64, 64, 3),
                         nn.MaxPool2d(2), nn.Dropout(0.3), *block(64, 128, 3), nn.Flatten(), nn.Dropout(0.4),
                         nn.Linear(1152, 10)],
        # Keras' 'same' pads a 24x24 input by 1 and 2 for a 5x5 kernel at stride 2; padding 2 gives the same 12x12.
        "strong": lambda: [*block(1, 32, 3), *block(32, 32, 3), *block(32, 32, 5, 2, 2), nn.Dropout(0.4),
                           *block(32, 64, 3), *block(64, 64, 3), *block(64, 64, 5, 2, 2), nn.Dropout(0.4),
                           *block(64, 128, 4), nn.Flatten(), nn.Dropout(0.4), nn.Linear(128, 10)],
    }
    best_train, best_predict = 0.0, 0.0
    for fmt in (torch.contiguous_format, torch.channels_last):
        m = nn.Sequential(*nets[net]()).to(memory_format=fmt)
        opt = torch.optim.Adam(m.parameters())
        xs = [torch.rand(bs, 1, 28, 28).to(memory_format=fmt) for _ in range(8)]
        y = torch.randint(0, 10, (bs,))
        m.train()
        for i in range(5 + STEPS):
            if i == 5:
                t = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(m(xs[i % len(xs)]), y).backward()
            opt.step()
        best_train = max(best_train, STEPS * bs / (time.perf_counter() - t))
        m.eval()
        xt = torch.rand(PREDICT, 1, 28, 28).to(memory_format=fmt)
        with torch.no_grad():
            m(xt[:256])
            t = time.perf_counter()
            for i in range(0, PREDICT, 256):
                m(xt[i : i + 256])
            best_predict = max(best_predict, PREDICT / (time.perf_counter() - t))
    return best_train, best_predict


train, predict = keras_run() if stack == "keras" else torch_run()
print(f"{stack} {net} train img/s {train:.1f} predict img/s {predict:.1f}")
