"""Screens candidate networks and epoch budgets for the presets, in PyTorch.

Run by hand (any PyTorch, a GPU makes it quick):
  python3 bench/peers/pytorch_zoo.py --data ../shared/data/digit-recognizer.zip \
      --split split.json --out results/ [--arch strong,lite] [--epochs 4,8] [--seeds 1,2]

Mirrors the library's recipe as closely as PyTorch allows: Keras' Glorot-uniform
kernels and zero biases, batch norm with eps 1e-3 and Keras momentum 0.9, Adam
(eps 1e-7) on the library's one-cycle schedule, label smoothing 0.05, batch 64,
and the same random affine augmentation (rotation, zoom, shift; bilinear).
The hold-out rows come from the library's own stratified split (`--split`, a
JSON list of row indices written by `npm run bench -- bench/peers/write_split.ts ZIP OUT.json`),
so accuracies compare with docs/benchmarks.md. It only ranks candidates: every figure quoted
for a preset is re-measured with TensorFlow.js on the benchmark machine.
"""
import argparse
import io
import json
import math
import os
import time
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import bench_results


def load_train(path):
    with zipfile.ZipFile(path) as z:
        raw = z.read('train.csv')
    try:
        import pandas
        rows = pandas.read_csv(io.BytesIO(raw)).to_numpy(dtype=np.uint8)
    except ImportError:
        rows = np.loadtxt(io.BytesIO(raw), delimiter=',', skiprows=1, dtype=np.uint8)
    return rows[:, 1:].reshape(-1, 1, 28, 28), rows[:, 0].astype(np.int64)


def bn_relu(c):
    return [nn.BatchNorm2d(c, eps=1e-3, momentum=0.1), nn.ReLU()]


def conv(ci, co, k, s=1, same=False):
    return nn.Conv2d(ci, co, k, s, padding=(k // 2 if same else 0), bias=False)


def build(arch):
    if arch == 'strong':
        layers = [conv(1, 32, 3), *bn_relu(32), conv(32, 32, 3), *bn_relu(32), conv(32, 32, 5, 2, True), *bn_relu(32), nn.Dropout(0.4),
                  conv(32, 64, 3), *bn_relu(64), conv(64, 64, 3), *bn_relu(64), conv(64, 64, 5, 2, True), *bn_relu(64), nn.Dropout(0.4),
                  conv(64, 128, 4), *bn_relu(128), nn.Flatten(), nn.Dropout(0.4), nn.Linear(128, 10)]
    elif arch == 'strong-pool':
        layers = [conv(1, 32, 3), *bn_relu(32), conv(32, 32, 3), *bn_relu(32), nn.MaxPool2d(2), nn.Dropout(0.4),
                  conv(32, 64, 3), *bn_relu(64), conv(64, 64, 3), *bn_relu(64), nn.MaxPool2d(2), nn.Dropout(0.4),
                  conv(64, 128, 4), *bn_relu(128), nn.Flatten(), nn.Dropout(0.4), nn.Linear(128, 10)]
    elif arch == 'small':
        layers = [conv(1, 32, 3, same=True), *bn_relu(32), nn.MaxPool2d(2),
                  conv(32, 64, 3), *bn_relu(64), conv(64, 64, 3), *bn_relu(64), nn.MaxPool2d(2), nn.Dropout(0.3),
                  conv(64, 128, 3), *bn_relu(128), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1152, 10)]
    elif arch == 'small-wide':
        layers = [conv(1, 48, 3, same=True), *bn_relu(48), nn.MaxPool2d(2),
                  conv(48, 96, 3), *bn_relu(96), conv(96, 96, 3), *bn_relu(96), nn.MaxPool2d(2), nn.Dropout(0.3),
                  conv(96, 192, 3), *bn_relu(192), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1728, 10)]
    elif arch == 'compact':
        layers = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10)]
    else:
        raise SystemExit(f'unknown arch {arch}')
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def one_cycle(max_lr, step, total, warmup=0.25):
    start = max_lr / 25
    end = start / 1000
    t = 1 if total <= 1 else step / (total - 1)
    if t < warmup:
        return start + (max_lr - start) * (t / warmup)
    u = (t - warmup) / max(1 - warmup, 1e-9)
    return end + (max_lr - end) * (1 + math.cos(math.pi * min(u, 1))) / 2


def augment(x, gen, rotation=10.0, shift=2.5, zoom=0.1):
    n = x.shape[0]
    r = lambda: torch.rand(n, device=x.device, generator=gen) * 2 - 1
    angle = r() * rotation * math.pi / 180
    scale = 1 + r() * zoom
    dx, dy = r() * shift, r() * shift
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid works in [-1, 1] coordinates (align_corners=True: 27 px = 2 units).
    k = 2 / 27
    theta = torch.stack([torch.stack([cos, sin, -(cos * dx + sin * dy) * k], 1),
                         torch.stack([-sin, cos, -(-sin * dx + cos * dy) * k], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=True)


def predict(net, x, tta):
    net.eval()
    views = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)] if tta else [(0, 0)]
    out = 0
    with torch.no_grad():
        for dx, dy in views:
            v = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            if dy == 1: v[:, :, 0, :] = 0
            if dy == -1: v[:, :, -1, :] = 0
            if dx == 1: v[:, :, :, 0] = 0
            if dx == -1: v[:, :, :, -1] = 0
            out = out + torch.cat([F.softmax(net(v[i:i + 2048]), 1) for i in range(0, len(v), 2048)])
    return out / len(views)


def run(arch, epochs, seed, xtr, ytr, xva, yva, max_lr, batch, device, aug=(10.0, 2.5, 0.1), smoothing=0.05):
    torch.manual_seed(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    net = build(arch).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=max_lr, eps=1e-7)
    steps = math.ceil(len(xtr) / batch)
    total = steps * epochs
    step = 0
    t0 = time.time()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xtr), device=device, generator=gen)
        for i in range(steps):
            idx = order[i * batch:(i + 1) * batch]
            xb = augment(xtr[idx], gen, *aug) if arch != 'compact' else xtr[idx]
            for g in opt.param_groups:
                g['lr'] = one_cycle(max_lr, step, total)
            loss = F.cross_entropy(net(xb), ytr[idx], label_smoothing=smoothing if arch != 'compact' else 0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    p = predict(net, xva, False)
    pt = predict(net, xva, True)
    acc = (p.argmax(1) == yva).float().mean().item()
    acc_tta = (pt.argmax(1) == yva).float().mean().item()
    return acc, acc_tta, time.time() - t0, p.cpu().numpy(), pt.cpu().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--split', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--arch', default='strong')
    ap.add_argument('--epochs', default='4')
    ap.add_argument('--seeds', default='1')
    ap.add_argument('--max-lr', type=float, default=0.004)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--aug', default='10,2.5,0.1', help='rotation degrees, shift pixels, zoom fraction')
    ap.add_argument('--smoothing', type=float, default=0.05)
    bench_results.add_arguments(ap)
    args = ap.parse_args()
    results = bench_results.start(__file__, 'candidate networks and epoch budgets screened in PyTorch on the hold-out',
                                  args, {'torch': torch.__version__})
    keys = ['arch', 'epochs', 'seed', 'maxLr', 'batch', 'aug', 'smoothing']
    table = results.table('screens', 'Hold-out accuracy of the library\'s recipe re-implemented in PyTorch', [
        *({'key': k, 'label': k} for k in keys),
        {'key': 'acc', 'label': 'hold-out accuracy', 'digits': 2, 'suffix': ' %'},
        {'key': 'accTta', 'label': 'with TTA', 'digits': 2, 'suffix': ' %'},
        {'key': 'seconds', 'label': 'seconds', 'digits': 1},
    ])
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.backends.cudnn.benchmark = True
    x, y = load_train(args.data)
    va = np.array(json.load(open(args.split)), dtype=np.int64)
    mask = np.ones(len(y), bool)
    mask[va] = False
    to = lambda a: torch.tensor(a, device=device)
    xtr, ytr = to(x[mask]).float() / 255, to(y[mask])
    xva, yva = to(x[va]).float() / 255, to(y[va])
    os.makedirs(args.out, exist_ok=True)
    for arch in args.arch.split(','):
        for epochs in map(int, args.epochs.split(',')):
            for seed in map(int, args.seeds.split(',')):
                aug = tuple(float(v) for v in args.aug.split(','))
                acc, acc_tta, secs, p, pt = run(arch, epochs, seed, xtr, ytr, xva, yva, args.max_lr, args.batch, device, aug, args.smoothing)
                name = f'{arch}_e{epochs}_s{seed}_lr{args.max_lr}_b{args.batch}_aug{args.aug}_ls{args.smoothing}'
                np.save(os.path.join(args.out, name + '.npy'), np.stack([p, pt]).astype(np.float16))
                print(json.dumps({'arch': arch, 'epochs': epochs, 'seed': seed, 'maxLr': args.max_lr, 'batch': args.batch, 'aug': args.aug, 'smoothing': args.smoothing,
                                  'acc': acc, 'accTta': acc_tta, 'seconds': round(secs, 1)}), flush=True)
                table.row(arch=arch, epochs=epochs, seed=seed, maxLr=args.max_lr, batch=args.batch, aug=args.aug,
                          smoothing=args.smoothing, acc=100 * acc, accTta=100 * acc_tta, seconds=secs)
    results.save(merge=[('screens', keys)])


if __name__ == '__main__':
    main()
