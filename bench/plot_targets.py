#!/usr/bin/env python3
"""Turns bench/targets' results into targets.md (each target, its figure, met or not) and
targets.png (each figure as a fraction of its target; below 1 is met). It reads, in
RESULTS_DIR, targets.txt (the tools' key=value lines) and targets-poll_cpu.json
(poll_cpu_benchmark's Google Benchmark JSON: the in-process poll figures).

usage: plot_targets.py RESULTS_DIR [QUICK]
"""
import datetime
import json
import os
import platform
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    runs = {}
    for line in open(path):
        name, _, figures = line.partition(": ")
        runs[name] = dict(kv.split("=", 1) for kv in figures.split())
    return runs


# The in-process poll figures: label -> the poll_cpu_benchmark run it is read from.
POLL_RUNS = [
    ("poll_plain", "poll_cpu/plain/files:"),
    ("poll_plain_floor", "poll_floor/plain/files:"),
    ("poll_lone_kubelet_key", "poll_cpu/kubelet/files:"),
    ("poll_kubelet_floor", "poll_floor/kubelet/files:"),
    ("poll_key_of_10", "poll_cpu/kubelet_volume/keys:10/volumes:1000/file_watchers"),
]


def read_poll(path):
    """poll_cpu_benchmark's JSON -> {label: {files, cpu_ns_per_key_p50, fs_calls_per_key}},
    the figures rounded as text as targets.txt held them (the rows use those roundings)."""
    benchmarks = {b["name"].split("/iterations")[0]: b for b in json.load(open(path))["benchmarks"]}
    runs = {}
    for label, prefix in POLL_RUNS:
        for name, b in benchmarks.items():
            if name.startswith(prefix):
                runs[label] = {
                    "files": "%d" % b.get("files", 0),
                    "cpu_ns_per_key_p50": "%.0f" % b["cpu_ns_per_file_p50"],
                    "fs_calls_per_key": "%.2f" % b.get("fs_calls_per_file", b.get("fs_calls_per_key", 0)),
                }
                break
    return runs


def main():
    out = sys.argv[1]
    quick = len(sys.argv) > 2 and sys.argv[2] == "1"
    runs = read(os.path.join(out, "targets.txt"))
    runs.update(read_poll(os.path.join(out, "targets-poll_cpu.json")))

    def fig(run, key, scale=1.0):
        return float(runs[run][key]) * scale

    # (target, the figure's words, measured, bound, unit): met when measured <= bound.
    rows = [
        ("poll: key of a 10-key kubelet volume, 1,000 volumes (in process)", "µs CPU per key per poll",
         fig("poll_key_of_10", "cpu_ns_per_key_p50", 1e-3), 1.5, "µs"),
        ("poll: lone plain file, %s files (in process)" % runs["poll_plain"]["files"],
         "µs CPU per file per poll (bare lstat: %.1f µs)" % fig("poll_plain_floor", "cpu_ns_per_key_p50", 1e-3),
         fig("poll_plain", "cpu_ns_per_key_p50", 1e-3), 2.0, "µs"),
        ("idle, events: %s volumes × 10 keys" % runs["idle_10_keys"]["volumes"], "% of a core",
         fig("idle_10_keys", "idle_cpu_percent"), 0.3, "%"),
        ("idle, events: %s one-key volumes" % runs["idle_1_key"]["volumes"], "% of a core",
         fig("idle_1_key", "idle_cpu_percent"), 0.3, "%"),
        ("memory: %s volumes × 10 keys" % runs["idle_10_keys"]["volumes"], "bytes RSS per key",
         fig("idle_10_keys", "rss_per_key_bytes"), 1024, "B"),
        ("memory: %s one-key volumes" % runs["idle_1_key"]["volumes"], "bytes RSS per key",
         fig("idle_1_key", "rss_per_key_bytes"), 1536, "B"),
        ("one kernel watch per volume (%s volumes)" % runs["idle_10_keys"]["volumes"],
         "inotify watches beyond one per volume (the directories above the volumes, shared)",
         fig("idle_10_keys", "kernel_watches") - fig("idle_10_keys", "volumes"), 8, ""),
        ("latency: P50 against inotifywait's, same run", "ratio of medians (inotifywait P50 %.3f ms)"
         % fig("latency", "inotifywait_p50_ms"), fig("latency", "p50_ratio"), 1.5, "×"),
        ("latency: P99 through the tool", "ms", fig("latency", "hotreload_p99_ms"), 0.6, "ms"),
        ("footprint: sidecar watching one volume", "KiB RSS (configmap-reload: 7.1 MiB)",
         fig("idle_1_key", "baseline_rss_kib"), 7.1 * 1024, "KiB"),
        ("scale: %s keys (%s volumes as --dir) load" % (int(runs["scale_dirs"]["volumes"]) * 10,
                                                     runs["scale_dirs"]["volumes"]),
         "seconds to the last `loaded`", fig("scale_dirs", "load_seconds"), 10, "s"),
        ("scale: inotify instances", "instances", fig("scale_dirs", "inotify_instances"), 1, ""),
    ]
    reported = [
        ("idle, events: %s volumes × 10 keys, --safety-rehash-every 10 (each file read every "
         "100 s, not 5 minutes)" % runs["idle_10_keys_reads100s"]["volumes"],
         "%s %% of a core" % runs["idle_10_keys_reads100s"]["idle_cpu_percent"]),
        ("poll through the tool, %s volumes × 10 keys, --poll-interval 1s" % runs["poll_through_tool"]["volumes"],
         "%.2f %% of a core, %.1f µs per key per poll" % (
             fig("poll_through_tool", "idle_cpu_percent"),
             fig("poll_through_tool", "idle_cpu_percent") * 1e4 / int(runs["poll_through_tool"]["volumes"]) / 10)),
        ("scale: RSS per key, idle CPU", "%s B, %s %% of a core" % (runs["scale_dirs"]["rss_per_key_bytes"],
                                                                   runs["scale_dirs"]["idle_cpu_percent"])),
        ("webhook: rename → POST at a local receiver", "P50 %s ms, P99 %s ms (configmap-reload not "
         "measured: no binary of it on this machine)" % (runs["webhook"]["p50_ms"], runs["webhook"]["p99_ms"])),
        ("lone kubelet key, in process", "%.1f µs per poll (bare syscalls %.1f µs)" % (
            fig("poll_lone_kubelet_key", "cpu_ns_per_key_p50", 1e-3),
            fig("poll_kubelet_floor", "cpu_ns_per_key_p50", 1e-3))),
    ]

    md = ["# hotreload against its performance targets", ""]
    md.append("Machine: %d CPUs, Linux %s; run %s%s. Written by `bench/targets`; every figure "
              "is from that run." % (os.cpu_count(), platform.release(),
                                     datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
                                     " with --quick (smaller sizes than the targets name)" if quick else ""))
    md += ["", "| target | figure | measured | bound | met |", "| --- | --- | --- | --- | --- |"]
    def number(x):
        return "{:,.0f}".format(x) if abs(x) >= 100 else "%.3g" % x

    for target, words, value, bound, unit in rows:
        md.append("| %s | %s | %s %s | ≤ %s %s | %s |" % (target, words, number(value), unit,
                                                        number(bound), unit, "yes" if value <= bound else "no"))
    md += ["", "Reported, no bound:", ""]
    md += ["- %s: %s" % r for r in reported]
    with open(os.path.join(out, "targets.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    fig_, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    labels = [r[0] for r in rows][::-1]
    ratios = [max(r[2], 1e-3) / r[3] if r[3] else 1 for r in rows][::-1]
    ax.barh(labels, ratios, color=["#2ca02c" if x <= 1 else "#d62728" for x in ratios])
    ax.axvline(1, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("measured / target (≤ 1 is met)")
    ax.set_title("hotreload against its targets" + (" (--quick)" if quick else ""))
    fig_.tight_layout()
    fig_.savefig(os.path.join(out, "targets.png"), dpi=100)


if __name__ == "__main__":
    main()
