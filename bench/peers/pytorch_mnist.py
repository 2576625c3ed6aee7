"""The canonical PyTorch MNIST recipe (pytorch/examples mnist/main.py), re-implemented
as the reference for bench/recipes/presets.ts: conv32-conv64-maxpool-dropout-fc128-dropout-fc10,
Adadelta lr 1.0, StepLR gamma 0.7, batch 64, 14 epochs, on the competition's train.csv
with a seeded, stratified 10 % hold-out.

Run by hand:  /usr/bin/python3 bench/peers/pytorch_mnist.py ../shared/data/digit-recognizer.zip [epochs]
(Debian's python3-torch; not a project dependency.) Prints one JSON line at the end and
writes bench/results/pytorch_mnist.json (bench/recipes/presets.ts runs it with --no-results
and records it beside the presets).
"""
import argparse, io, json, sys, time, zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import bench_results

ap = argparse.ArgumentParser()
ap.add_argument('zip')
ap.add_argument('epochs', type=int, nargs='?', default=14)
bench_results.add_arguments(ap)
args = ap.parse_args()
results = bench_results.start(__file__, "the canonical PyTorch MNIST recipe on the competition's hold-out", args,
                              {'torch': torch.__version__})
torch.set_num_threads(2)
torch.manual_seed(1)
zip_path = args.zip
epochs = args.epochs

t0 = time.perf_counter()
with zipfile.ZipFile(zip_path) as z:
    raw = np.loadtxt(io.TextIOWrapper(z.open("train.csv")), delimiter=",", skiprows=1, dtype=np.uint8)
labels, pixels = raw[:, 0].astype(np.int64), raw[:, 1:].reshape(-1, 1, 28, 28)
rng = np.random.default_rng(42)
val_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[: round((labels == c).sum() * 0.1)] for c in range(10)])
train_mask = np.ones(len(labels), bool)
train_mask[val_idx] = False
# The example's normalisation: (x / 255 - 0.1307) / 0.3081.
def tensor(x):
    return (torch.from_numpy(x).float() / 255 - 0.1307) / 0.3081
xtr, ytr = tensor(pixels[train_mask]), torch.from_numpy(labels[train_mask])
xva, yva = tensor(pixels[val_idx]), torch.from_numpy(labels[val_idx])
load_s = time.perf_counter() - t0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


model = Net()
optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
history = []
t_train = time.perf_counter()
for epoch in range(1, epochs + 1):
    t = time.perf_counter()
    model.train()
    perm = torch.randperm(len(ytr))
    for i in range(0, len(perm), 64):
        idx = perm[i : i + 64]
        optimizer.zero_grad()
        loss = F.nll_loss(model(xtr[idx]), ytr[idx])
        loss.backward()
        optimizer.step()
    scheduler.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model(xva[i : i + 1000]).argmax(1) == yva[i : i + 1000]).sum().item() for i in range(0, len(yva), 1000))
    history.append({"epoch": epoch, "seconds": round(time.perf_counter() - t, 2), "val_acc": correct / len(yva)})
    print(json.dumps(history[-1]), flush=True)
print(json.dumps({"recipe": "pytorch-mnist-example", "torch": torch.__version__, "threads": torch.get_num_threads(), "epochs": epochs,
                  "train_images": int(train_mask.sum()), "val_images": len(yva), "load_seconds": round(load_s, 2),
                  "train_seconds": round(time.perf_counter() - t_train, 2), "final_val_acc": history[-1]["val_acc"],
                  "best_val_acc": max(h["val_acc"] for h in history)}))
table = results.table('recipe', f'The PyTorch MNIST example, {epochs} epochs, {torch.get_num_threads()} threads', [
    {'key': 'epochs', 'label': 'epochs', 'digits': 0},
    {'key': 'trainSeconds', 'label': 'training (s)', 'digits': 1},
    {'key': 'holdoutAccuracy', 'label': 'hold-out accuracy, last epoch', 'digits': 2, 'suffix': ' %'},
    {'key': 'bestAccuracy', 'label': 'best epoch', 'digits': 2, 'suffix': ' %'},
])
table.row(epochs=epochs, trainSeconds=time.perf_counter() - t_train, holdoutAccuracy=100 * history[-1]["val_acc"],
          bestAccuracy=100 * max(h["val_acc"] for h in history))
results.save()
