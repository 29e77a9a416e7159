#!/usr/bin/python3
"""PyTorch reference for `mnist train`: the same network, initializers, optimizer, batch and split.

    /usr/bin/python3 bench/pytorch_mlp.py [--model mlp|cnn] [--dataset mnist|fashion]
        [--data-dir DIR] [--epochs N] [--batch N] [--optimizer sgd|adam] [--lr X]
        [--schedule constant|cosine] [--threads N] [--seed N] [--json]

--model mlp (default, as `mnist train --model mlp`): 784-256-256-10, Linear+ReLU,
Linear+ReLU, Linear; SGD without momentum, lr 0.04, batch 100, 15 epochs.
--model cnn (as `mnist train --model cnn`): Conv2d(32, 3x3)+ReLU+MaxPool2d(2),
Conv2d(64, 3x3)+ReLU+MaxPool2d(2), Flatten (1600), Linear(128)+ReLU, Linear(10); no
padding, stride 1; Adam, lr 1e-3 on a cosine schedule, batch 64, 3 epochs; images in as
1x28x28.  --schedule cosine (as nn_schedule_lr): the step k of epoch e (0-based) uses
lr (1 + cos(pi (e + k / batches) / epochs)) / 2, down to 0 at the end; constant: lr.
The flags override these defaults.  The softmax is folded into CrossEntropyLoss on the
logits.  Weights: He normal (kaiming_normal_, fan_in, relu) for every layer followed by a
ReLU (convolutions included), Glorot uniform (xavier_uniform_) for the last; biases zero.
Adam's lr is 1e-3 unless --lr.  Split: the first 50,000 training images train, the last
10,000 validate; the 10,000 test images test.  Inputs are pixels / 255.

Plain tensors and manual batching: one permutation per epoch, index_select into the batch;
no DataLoader.  The images are converted to float32 once, up front (not timed).

Timing (same as nn_model_fit's per-epoch time, minus validation): an epoch's seconds cover
the whole training loop (permutation, batch gathering, forward, backward, update, and the
running loss/accuracy bookkeeping); the validation pass after it is timed separately
(val_seconds).  "Images/s" = training images / median epoch seconds.

Training loss and accuracy are the running values over the epoch's batches (as the engine
reports them), not a second pass over the training set.

Debian's torch runs Conv2d on its bundled oneDNN (MKL-DNN 2.6.3) and Linear on sgemm_ of
libblas.so.3 (OpenBLAS).  Needs Debian's python3-torch (run with /usr/bin/python3).  On CPUs with AVX-512F it sets
OPENBLAS_CORETYPE=SkylakeX (unless already set) before importing torch, so that an
OpenBLAS behind torch uses its AVX-512 kernels even when the hypervisor hides the CPU model.
"""
import argparse
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time


def cpu_has_avx512f():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:
        pass
    return False


# What `mnist train --model M` uses when no flag says otherwise.
MODEL_DEFAULTS = {
    "mlp": {"epochs": 15, "batch": 100, "optimizer": "sgd", "schedule": "constant"},
    "cnn": {"epochs": 3, "batch": 64, "optimizer": "adam", "schedule": "cosine"},
}


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch reference run of the MNIST MLP or CNN")
    p.add_argument("--model", choices=sorted(MODEL_DEFAULTS), default="mlp")
    p.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    p.add_argument("--data-dir", help="directory with the four IDX files (default: data/DATASET)")
    p.add_argument("--epochs", type=int, help="default: 15 (mlp), 3 (cnn)")
    p.add_argument("--batch", type=int, help="default: 100 (mlp), 64 (cnn)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], help="default: sgd (mlp), adam (cnn)")
    p.add_argument("--schedule", choices=["constant", "cosine"],
                   help="default: constant (mlp), cosine (cnn)")
    p.add_argument("--lr", type=float, help="learning rate (default: 0.04 SGD, 0.001 Adam)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--val", type=int, default=10000, help="validation images (last N of train)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout at the end")
    a = p.parse_args(argv)
    for key, value in MODEL_DEFAULTS[a.model].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    if a.epochs < 1 or a.batch < 1 or a.threads < 1 or a.val < 0:
        p.error("--epochs, --batch and --threads must be >= 1, --val >= 0")
    if a.lr is None:
        a.lr = 0.04 if a.optimizer == "sgd" else 1e-3
    if a.lr <= 0:
        p.error("--lr must be > 0")
    if a.data_dir is None:
        a.data_dir = os.path.join("data", a.dataset)
    return a


args = parse_args(sys.argv[1:])
if cpu_has_avx512f():
    os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
# Must precede the import: OpenBLAS/OpenMP read these when the libraries load.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def read_idx(data_dir, name, magic):
    """The IDX file `name` (or `name`.gz) as (dims, bytes after the header)."""
    path = os.path.join(data_dir, name)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    if not os.path.exists(path):
        sys.exit(f"pytorch_mlp: missing {os.path.join(data_dir, name)} "
                 f"(fetch it with: build/bin/mnist fetch --dataset {args.dataset}"
                 f" --data-dir {data_dir})")
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        sys.exit(f"pytorch_mlp: {path}: magic 0x{got:08x}, expected 0x{magic:08x}")
    rank = magic & 0xFF
    dims = struct.unpack(f">{rank}I", data[4:4 + 4 * rank])
    offset = 4 + 4 * rank
    count = 1
    for d in dims:
        count *= d
    if len(data) - offset != count:
        sys.exit(f"pytorch_mlp: {path}: {len(data) - offset} data bytes, header says {count}")
    return dims, torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=offset, count=count)


def load(data_dir, prefix):
    dims, images = read_idx(data_dir, f"{prefix}-images-idx3-ubyte", 0x00000803)
    ldims, labels = read_idx(data_dir, f"{prefix}-labels-idx1-ubyte", 0x00000801)
    if dims[0] != ldims[0]:
        sys.exit(f"pytorch_mlp: {prefix}: {dims[0]} images but {ldims[0]} labels")
    x = images.view(dims[0], dims[1] * dims[2]).to(torch.float32).div_(255.0)
    return x.contiguous(), labels.to(torch.int64)


def build_model(name):
    if name == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
                              nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(),
                              nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10))
    layers = [m for m in model if isinstance(m, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        for layer in layers[:-1]:  # each followed by a ReLU
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(layer.bias)
        nn.init.xavier_uniform_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
    return model


@torch.no_grad()
def evaluate(model, x, y, chunk=1000):
    loss_sum = 0.0
    correct = 0
    for i in range(0, x.shape[0], chunk):
        out = model(x[i:i + chunk])
        t = y[i:i + chunk]
        loss_sum += F.cross_entropy(out, t, reduction="sum").item()
        correct += (out.argmax(1) == t).sum().item()
    return loss_sum / x.shape[0], correct / x.shape[0]


def blas_backend():
    cfg = torch.__config__.show()
    for line in cfg.splitlines():
        if "BLAS_INFO" in line:
            return line.split("BLAS_INFO=")[1].split(",")[0]
    return "unknown"


def main():
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    log = sys.stderr if args.json else sys.stdout

    x_all, y_all = load(args.data_dir, "train")
    x_test, y_test = load(args.data_dir, "t10k")
    n_train = x_all.shape[0] - args.val
    if n_train < 1:
        sys.exit(f"pytorch_mlp: --val {args.val} leaves no training images")
    if args.model == "cnn":  # N x 1 x rows x cols views of the same floats
        side = int(round(x_all.shape[1] ** 0.5))
        x_all = x_all.view(-1, 1, side, side)
        x_test = x_test.view(-1, 1, side, side)
    x_train, y_train = x_all[:n_train].contiguous(), y_all[:n_train].contiguous()
    x_val, y_val = x_all[n_train:].contiguous(), y_all[n_train:].contiguous()

    model = build_model(args.model)
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)

    print(f"pytorch {torch.__version__}, BLAS {blas_backend()}, {torch.get_num_threads()} "
          f"threads, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')}, "
          f"oneDNN {torch.backends.mkldnn.is_available()}; {args.model} on "
          f"{args.dataset}: {n_train} train / {x_val.shape[0]} val / {x_test.shape[0]} test; "
          f"{args.optimizer} lr {args.lr} ({args.schedule}), batch {args.batch}, {args.epochs} epochs",
          file=log, flush=True)

    hist = {k: [] for k in ("epoch_seconds", "val_seconds", "train_loss", "train_accuracy",
                            "val_loss", "val_accuracy")}
    batch = args.batch
    batches = (n_train + batch - 1) // batch
    for epoch in range(args.epochs):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(n_train, generator=gen)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for k, first in enumerate(range(0, n_train, batch)):
            if args.schedule == "cosine":
                t = min(epoch + k / batches, args.epochs)
                for group in opt.param_groups:
                    group["lr"] = args.lr * (1 + math.cos(math.pi * t / args.epochs)) / 2
            idx = perm[first:first + batch]
            xb = x_train.index_select(0, idx)
            yb = y_train.index_select(0, idx)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * idx.shape[0]
                correct += (out.argmax(1) == yb).sum()
        train_loss = loss_sum.item() / n_train
        train_acc = correct.item() / n_train
        seconds = time.perf_counter() - start

        model.eval()
        vstart = time.perf_counter()
        if x_val.shape[0]:
            val_loss, val_acc = evaluate(model, x_val, y_val)
        else:
            val_loss, val_acc = float("nan"), float("nan")
        vseconds = time.perf_counter() - vstart

        for k, v in (("epoch_seconds", seconds), ("val_seconds", vseconds),
                     ("train_loss", train_loss), ("train_accuracy", train_acc),
                     ("val_loss", val_loss), ("val_accuracy", val_acc)):
            hist[k].append(v)
        print(f"epoch {epoch + 1:2d}/{args.epochs}: train loss {train_loss:.4f} "
              f"acc {100 * train_acc:.2f}% | val loss {val_loss:.4f} acc {100 * val_acc:.2f}% | "
              f"{seconds:.3f} s (+ {vseconds:.3f} s validation)", file=log, flush=True)

    model.eval()
    test_loss, test_acc = evaluate(model, x_test, y_test)
    med = statistics.median(hist["epoch_seconds"])
    mean = statistics.fmean(hist["epoch_seconds"])
    print(f"test loss {test_loss:.4f}, accuracy {100 * test_acc:.2f}%; "
          f"{med:.3f} s/epoch median ({mean:.3f} mean) training only, "
          f"{n_train / med:.0f} images/s; validation {statistics.median(hist['val_seconds']):.3f} s"
          f" median", file=log, flush=True)

    if args.json:
        result = {
            "model": args.model, "dataset": args.dataset, "epochs": args.epochs, "batch": batch,
            "threads": args.threads, "isa": "pytorch", "seed": args.seed,
            "optimizer": args.optimizer, "lr": args.lr, "schedule": args.schedule, "train_count": n_train,
            "val_count": x_val.shape[0], "test_count": x_test.shape[0],
            "epoch_seconds": hist["epoch_seconds"], "val_seconds": hist["val_seconds"],
            "train_loss": hist["train_loss"], "train_accuracy": hist["train_accuracy"],
            "val_loss": hist["val_loss"], "val_accuracy": hist["val_accuracy"],
            "test_loss": test_loss, "test_accuracy": test_acc,
            "seconds_per_epoch_median": med, "seconds_per_epoch_mean": mean,
            "images_per_second": n_train / med,
            "torch_version": torch.__version__, "blas": blas_backend(),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
            "mkldnn": torch.backends.mkldnn.is_available(),
        }
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
