#!/usr/bin/python3
"""Markdown tables from nn_bench's Google Benchmark JSON, for bench/RESULTS.md.

    build/bin/nn_bench --benchmark_repetitions=5 --benchmark_format=json > bench.json
    scripts/bench_report.py bench.json          (or: ... | scripts/bench_report.py)

Takes the median GFLOP/s of every benchmark over its repetitions and prints one table
per thread count: each shape with ours and every peer, ours over the best peer, and
ours as a share of the FMA peak measured at that thread count.  Standard library only.
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


def load(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def failed(entry):
    return entry.get("error_occurred") or entry.get("skipped")


def medians(benchmarks):
    """{run name: median GFLOP/s}, from the repetitions themselves where present,
    else from Google Benchmark's median aggregate (--benchmark_report_aggregates_only)."""
    samples, aggregated = {}, {}
    for entry in benchmarks:
        name = entry.get("run_name", entry["name"])
        value = entry.get("GFLOP/s")
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
    return "\n".join(lines)


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
