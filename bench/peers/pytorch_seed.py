"""PyTorch CPU reference for the seed network's training and prediction speed.

Run by hand: python3 bench/peers/pytorch_seed.py [--threads 2] [--steps 20]
(bench/steps/train.ts --pytorch runs it beside our figures, in the same run).
Same network and step as bench/steps/train.ts: conv 100@5x5 -> conv 50@5x5 -> dense 128
-> softmax 10, Adam, batch 64 of 28x28 images, cross-entropy; prediction in
batches of 256. Prints one JSON line with images/s for both and writes
bench/results/pytorch_seed.json.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import bench_results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=20)
    bench_results.add_arguments(ap)
    args = ap.parse_args()
    results = bench_results.start(__file__, "the seed network's training and prediction images/s in PyTorch on the CPU",
                                  args, {'torch': torch.__version__})
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 100, 5), nn.ReLU(), nn.Conv2d(100, 50, 5), nn.ReLU(), nn.Flatten(),
                        nn.Linear(50 * 20 * 20, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    train = 64 / times[len(times) // 2]
    xs = torch.rand(4096, 1, 28, 28)
    net.eval()
    with torch.no_grad():
        net(xs[:256])
        t = time.perf_counter()
        for i in range(0, len(xs), 256):
            net(xs[i:i + 256])
        predict = len(xs) / (time.perf_counter() - t)
    print(json.dumps({'torch': torch.__version__, 'threads': args.threads, 'train_images_per_s': round(train, 1),
                      'predict_images_per_s': round(predict, 1)}))
    table = results.table('seed', f'The seed net in PyTorch {torch.__version__}, batch 64, median of {args.steps} steps', [
        {'key': 'threads', 'label': 'threads', 'digits': 0},
        {'key': 'train', 'label': 'train images/s', 'digits': 1},
        {'key': 'predict', 'label': 'predict images/s', 'digits': 0},
    ])
    table.row(threads=args.threads, train=train, predict=predict)
    results.save()


if __name__ == '__main__':
    main()
