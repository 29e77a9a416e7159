#!/usr/bin/env bash
# Trains a network with `build/bin/mnist train` and with PyTorch (bench/pytorch_mlp.py) on the
# same settings, one after the other, and prints seconds per epoch, images/s and test accuracy
# for both, with the ratio PyTorch time / ours.
#
#   scripts/compare-pytorch.sh [--model mlp|cnn] [--threads N] [--epochs N] [--batch N]
#       [--optimizer sgd|adam] [--lr X] [--schedule constant|cosine] [--dataset mnist|fashion]
#       [--seed N] [--repeat N] [--keep DIR]
#
# --model mlp (default): 784-256-256-10, SGD 0.04, batch 100, 15 epochs.  --model cnn:
# conv32-conv64 (3x3, ReLU, 2x2 max pooling), dense 128, 10; Adam 1e-3 on a cosine schedule,
# batch 64, 3 epochs.
# The other flags override the model's defaults.
#
# --repeat N runs each side N times (alternating, ours first) and reports the median run
# (by median epoch time).  --keep DIR keeps every run's JSON there.  Seconds per epoch is the
# median over epochs (mean beside it); images/s = training images / median seconds.
# PyTorch runs with OPENBLAS_CORETYPE=SkylakeX on CPUs with AVX-512F (so the OpenBLAS behind
# Debian's torch uses its AVX-512 kernels) and with /usr/bin/python3 (Debian's python3-torch).
# Needs build/bin/mnist (cmake --build build) and data/<dataset>/ (build/bin/mnist fetch).
set -euo pipefail

usage() {
    sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

model=mlp threads=2 epochs="" dataset=mnist batch="" optimizer="" lr="" schedule="" seed=1
repeat=1 keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model=${2:?}; shift 2 ;;
        --optimizer) optimizer=${2:?}; shift 2 ;;
        --schedule) schedule=${2:?}; shift 2 ;;
        --threads) threads=${2:?}; shift 2 ;;
        --epochs) epochs=${2:?}; shift 2 ;;
        --dataset) dataset=${2:?}; shift 2 ;;
        --batch) batch=${2:?}; shift 2 ;;
        --lr) lr=${2:?}; shift 2 ;;
        --seed) seed=${2:?}; shift 2 ;;
        --repeat) repeat=${2:?}; shift 2 ;;
        --keep) keep=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare-pytorch.sh: unknown option '$1'" >&2; usage ;;
    esac
done
# The defaults of `mnist train --model M`; the flags given above win.
case "$model" in
    mlp) : "${epochs:=15}" "${batch:=100}" "${optimizer:=sgd}" "${schedule:=constant}"
         net="MLP 784-256-256-10" ;;
    cnn) : "${epochs:=3}" "${batch:=64}" "${optimizer:=adam}" "${schedule:=cosine}"
         net="CNN conv32-conv64-128-10" ;;
    *) echo "compare-pytorch.sh: --model must be mlp or cnn, not '$model'" >&2; usage ;;
esac
case "$optimizer" in
    sgd) : "${lr:=0.04}" ;;
    adam) : "${lr:=0.001}" ;;
    *) echo "compare-pytorch.sh: --optimizer must be sgd or adam, not '$optimizer'" >&2; usage ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mnist=${MNIST:-build/bin/mnist}
py=/usr/bin/python3

die() { echo "compare-pytorch.sh: $*" >&2; exit 1; }

[ -x "$mnist" ] || die "$mnist not found: build it first (cmake -S . -B build && cmake --build build -j2)"
"$mnist" train --help >/dev/null 2>&1 ||
    die "'$mnist train' is not available (this build has no train command yet: rebuild, or wait for it)"
[ -x "$py" ] || die "$py not found (Debian's python3 with python3-torch is needed)"
"$py" -c 'import torch' 2>/dev/null || die "PyTorch not importable by $py: apt-get install -y python3-torch"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -e "data/$dataset/$f" ] || [ -e "data/$dataset/$f.gz" ] ||
        die "data/$dataset/$f is missing: build/bin/mnist fetch --dataset $dataset"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=${keep:-$tmp}
mkdir -p "$out"

coretype=()
grep -qw avx512f /proc/cpuinfo && coretype=(OPENBLAS_CORETYPE=SkylakeX)

common=(--model "$model" --optimizer "$optimizer" --schedule "$schedule" --dataset "$dataset"
        --epochs "$epochs"
        --batch "$batch" --lr "$lr" --threads "$threads" --seed "$seed" --json)
echo "# $dataset, $net, $optimizer $lr ($schedule), batch $batch, $epochs epochs, $threads threads," \
     "$repeat run(s) each; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq 1 "$repeat"); do
    echo "# run $r/$repeat: ours" >&2
    "$mnist" train --out "$tmp/model.safetensors" "${common[@]}" \
        >"$out/ours-$r.json" || die "mnist train failed (run $r)"
    echo "# run $r/$repeat: pytorch" >&2
    env "${coretype[@]}" "$py" bench/pytorch_mlp.py "${common[@]}" \
        >"$out/pytorch-$r.json" || die "bench/pytorch_mlp.py failed (run $r)"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$py" - "$out" "$repeat" <<'EOF'
import json, statistics, sys

out, repeat = sys.argv[1], int(sys.argv[2])

def load(name):
    runs = []
    for r in range(1, repeat + 1):
        path = f"{out}/{name}-{r}.json"
        with open(path) as f:
            text = f.read().strip()
        try:  # the JSON object is the last line of stdout
            runs.append(json.loads(text.splitlines()[-1]))
        except (ValueError, IndexError):
            sys.exit(f"compare-pytorch.sh: {path}: no JSON object in the output")
    for run in runs:
        run["_median"] = statistics.median(run["epoch_seconds"])
        run["_mean"] = statistics.fmean(run["epoch_seconds"])
    runs.sort(key=lambda run: run["_median"])
    return runs[(len(runs) - 1) // 2], [run["_median"] for run in runs]

ours, ours_all = load("ours")
torch_, torch_all = load("pytorch")
rows = []
for name, run, all_ in (("ours (" + str(ours.get("isa", "?")) + ")", ours, ours_all),
                        ("pytorch " + str(torch_.get("torch_version", "")), torch_, torch_all)):
    n = run.get("train_count", 60000 - 10000)  # default split: last 10,000 validate
    rows.append((name, run["_median"], run["_mean"], n / run["_median"],
                 100 * run["test_accuracy"], run["test_loss"], all_))
w = max(len(r[0]) for r in rows)
print(f"{'':{w}}  {'s/epoch':>8}  {'(mean)':>8}  {'images/s':>9}  {'test acc':>8}  {'test loss':>9}")
for name, med, mean, ips, acc, loss, all_ in rows:
    print(f"{name:{w}}  {med:8.3f}  {mean:8.3f}  {ips:9.0f}  {acc:7.2f}%  {loss:9.4f}")
    if len(all_) > 1:
        print(f"{'':{w}}  runs (median s/epoch): " + ", ".join(f"{s:.3f}" for s in all_))
ratio = torch_["_median"] / ours["_median"]
print(f"ratio PyTorch time / ours: {ratio:.2f}x")
# PyTorch's epoch_seconds cover training only (shuffle, gather, step); its validation pass
# is timed apart.  Shown so the comparison stays fair if ours counts validation too.
if torch_.get("val_seconds"):
    both = statistics.median(t + v for t, v in zip(torch_["epoch_seconds"], torch_["val_seconds"]))
    print(f"(PyTorch epochs exclude validation, {statistics.median(torch_['val_seconds']):.3f} s "
          f"median; with it: {both:.3f} s/epoch, ratio {both / ours['_median']:.2f}x)")
EOF
