#!/usr/bin/python3
"""Markdown tables from nn_bench's Google Benchmark JSON, for bench/RESULTS.md.

    build/bin/nn_bench --benchmark_repetitions=5 --benchmark_format=json > bench.json
    scripts/bench_report.py bench.json          (or: ... | scripts/bench_report.py)

Takes the median GFLOP/s of every benchmark over its repetitions and prints one table
per thread count: each shape with ours and every peer, ours over the best peer, and
ours as a share of the FMA peak measured at that thread count.  Then, if the run has
them, one table of the convolution layers: median milliseconds per call of ours and
oneDNN for every layer, phase and thread count.  Standard library only.
"""
import argparse
import json
import re
import statistics
import sys

# Column order and display names; impls not listed here are ignored.
PEERS = [("onednn", "oneDNN"), ("openblas", "OpenBLAS"), ("blis", "BLIS")]

# Names as bench/bench_sgemm.cpp registers them; Google Benchmark may append
# "/min_time:...", "/real_time" and the like.
SGEMM = re.compile(r"^sgemm/(?P<impl>[^/]+)/(?P<shape>[^/]+)/threads:(?P<threads>\d+)(/|$)")
PEAK = re.compile(r"^peak/fma_(?P<isa>[^/]+)/threads:(?P<threads>\d+)(/|$)")
# bench/bench_conv.cpp: conv/<layer>/<phase>/<impl>/threads:<t>
CONV = re.compile(r"^conv/(?P<layer>[^/]+)/(?P<phase>[^/]+)/(?P<impl>[^/]+)"
                  r"/threads:(?P<threads>\d+)(/|$)")
# Google Benchmark's time units, in milliseconds.
UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def load(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def failed(entry):
    return entry.get("error_occurred") or entry.get("skipped")


def gflops(entry):
    return entry.get("GFLOP/s")


def milliseconds(entry):
    if "real_time" not in entry or entry.get("time_unit", "ns") not in UNIT_MS:
        return None
    return entry["real_time"] * UNIT_MS[entry.get("time_unit", "ns")]


def medians(benchmarks, measure=gflops):
    """{run name: median measure (GFLOP/s)}, from the repetitions themselves where present,
    else from Google Benchmark's median aggregate (--benchmark_report_aggregates_only)."""
    samples, aggregated = {}, {}
    for entry in benchmarks:
        name = entry.get("run_name", entry["name"])
        value = measure(entry)
        if failed(entry) or value is None:
            continue
        if entry.get("run_type", "iteration") == "iteration":
            samples.setdefault(name, []).append(value)
        elif entry.get("aggregate_name") == "median":
            aggregated[name] = value
    result = dict(aggregated)
    result.update({name: statistics.median(values) for name, values in samples.items()})
    return result


def collect(data):
    """(table, peaks, shapes): table[threads][shape][impl] = GFLOP/s,
    peaks[threads] = (isa, GFLOP/s), shapes in the order the benchmarks ran."""
    table, peaks, shapes = {}, {}, []
    for name, value in medians(data.get("benchmarks", [])).items():
        m = SGEMM.match(name)
        if m:
            threads = int(m["threads"])
            table.setdefault(threads, {}).setdefault(m["shape"], {})[m["impl"]] = value
            continue
        m = PEAK.match(name)
        if m:
            peaks[int(m["threads"])] = (m["isa"], value)
    for entry in data.get("benchmarks", []):  # first appearance gives the order
        m = SGEMM.match(entry.get("run_name", entry["name"]))
        if m and m["shape"] not in shapes:
            shapes.append(m["shape"])
    return table, peaks, shapes


def cell(value, best):
    if value is None:
        return "—"
    text = f"{value:.1f}"
    return f"**{text}**" if best is not None and value >= best else text


def row(shape, results, peak):
    ours = results.get("ours")
    peers = [(label, results.get(key)) for key, label in PEERS]
    present = [(value, label) for label, value in peers if value is not None]
    best_value, best_label = max(present) if present else (None, None)
    fastest = max([v for v in [ours, best_value] if v is not None], default=None)
    cells = [f"`{shape}`", cell(ours, fastest)] + [cell(v, fastest) for _, v in peers]
    cells.append(f"{ours / best_value:.2f} ({best_label})" if ours and best_value else "—")
    cells.append(f"{100 * ours / peak:.0f}%" if ours and peak else "—")
    return "| " + " | ".join(cells) + " |"


def context_line(data, repetitions):
    c = data.get("context", {})
    return (f"{c.get('host_name', '?')}: {c.get('num_cpus', '?')} CPUs at "
            f"{c.get('mhz_per_cpu', '?')} MHz, {c.get('date', '?')}; "
            f"median of {repetitions} repetition(s); GFLOP/s, higher is better, "
            f"the fastest in **bold**.")


def conv_report(data):
    """The convolution table's lines ([] when the run has no conv/ benchmarks)."""
    ms, rate, order = {}, {}, []
    for table, measure in ((ms, milliseconds), (rate, gflops)):
        for name, value in medians(data.get("benchmarks", []), measure).items():
            m = CONV.match(name)
            if m:
                table[(m["layer"], m["phase"], int(m["threads"]), m["impl"])] = value
    for entry in data.get("benchmarks", []):  # first appearance gives the order
        m = CONV.match(entry.get("run_name", entry["name"]))
        key = m and (m["layer"], m["phase"], int(m["threads"]))
        if m and key not in order:
            order.append(key)
    if not ms:
        return []
    lines = ["", "### Convolution layers (ms per call, lower is better)", "",
             "| layer | phase | threads | ours ms | oneDNN direct ms | oneDNN Winograd ms "
             "| ours GFLOP/s | faster oneDNN time / ours |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for layer, phase, threads in order:
        ours, dnnl, wino = (ms.get((layer, phase, threads, impl))
                            for impl in ("ours", "onednn", "onednn_wino"))
        ours_rate = rate.get((layer, phase, threads, "ours"))
        best = min((t for t in (dnnl, wino) if t), default=None)
        cells = [f"`{layer}`", phase.replace("_", "-"), str(threads)]
        cells += [f"{t:.3f}" if t else "—" for t in (ours, dnnl, wino)]
        cells += [f"{ours_rate:.1f}" if ours_rate else "—",
                  f"{best / ours:.2f}" if ours and best else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report(data):
    table, peaks, shapes = collect(data)
    reps = max([e.get("repetitions", 1) for e in data.get("benchmarks", [])], default=1)
    lines = [context_line(data, reps)]
    for threads in sorted(table):
        isa, peak = peaks.get(threads, ("none", None))
        peak_text = f"{peak:.1f} GFLOP/s ({isa})" if peak else "not measured"
        lines += ["", f"### {threads} thread{'s' if threads > 1 else ''} "
                      f"(measured FMA peak: {peak_text})", "",
                  "| shape | ours | " + " | ".join(label for _, label in PEERS) +
                  " | ours / best peer | ours % of peak |",
                  "|---|" + "---:|" * (len(PEERS) + 3)]
        lines += [row(s, table[threads][s], peak) for s in shapes if s in table[threads]]
    return "\n".join(lines + conv_report(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", default="-",
                        help="nn_bench JSON output (default: standard input)")
    args = parser.parse_args()
    try:
        data = load(args.json)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"bench_report: cannot read {args.json}: {e}")
    print(report(data))


if __name__ == "__main__":
    main()
