#!/usr/bin/env python3
"""Turns bench/across-filesystems output into results.md and across-filesystems.png.

usage: plot_results.py RESULTS_DIR

Reads RESULTS_DIR/json/<fs>-<benchmark>.json (Google Benchmark JSON),
RESULTS_DIR/samples/<fs>/*.txt (one latency in µs per line), load.txt and skipped.txt.
"""
import glob
import json
import os
import platform
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FS_ORDER = ["tmpfs", "ext4", "xfs", "btrfs", "overlay", "fuse", "nfs_like"]
COLORS = {"tmpfs": "#1f77b4", "ext4": "#d62728", "xfs": "#2ca02c", "btrfs": "#9467bd",
          "overlay": "#ff7f0e", "fuse": "#8c564b", "nfs_like": "#e377c2"}
# Mounts written underneath, where no event arrives and the watcher runs in mode auto.
UNDERNEATH = ("fuse", "nfs_like")


def load(results):
    runs = {}  # fs -> benchmark name -> entry
    context = None
    for path in sorted(glob.glob(os.path.join(results, "json", "*.json"))):
        fs = os.path.basename(path).split("-", 1)[0]
        with open(path) as f:
            data = json.load(f)
        context = context or data.get("context")
        for b in data.get("benchmarks", []):
            name = re.sub(r"/(iterations:\d+|manual_time)", "", b["name"])
            runs.setdefault(fs, {})[name] = b
    return runs, context or {}


def samples(results, fs, name):
    path = os.path.join(results, "samples", fs, name.replace("/", "_").replace(":", "-") + ".txt")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return sorted(float(line) for line in f if line.strip())


def machine(context, results):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    load = ""
    path = os.path.join(results, "load.txt")
    if os.path.exists(path):
        with open(path) as f:
            load = "; ".join(line.strip() for line in f if line.strip())
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem_kib // 1024} MiB RAM, Linux "
            f"{platform.release()}, load average (1, 5, 15 min) {load}. "
            f"Benchmarks run {context.get('date', '')}.")


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def lat(run, keys=("p50_us", "p99_us", "max_us"), unit=1.0, digits=0):
    if not run or run.get("error_occurred"):
        return "—"
    return " / ".join(fmt(run.get(k) / unit if run.get(k) is not None else None, digits)
                      for k in keys)


def find(runs, fs, prefix):
    """The benchmark of fs whose name starts with prefix (the first if several)."""
    for name, run in runs.get(fs, {}).items():
        if name.startswith(prefix):
            return run
    return None


def table(runs, results, context):
    fss = [fs for fs in FS_ORDER if fs in runs]
    out = ["# hotreload across filesystems", "",
           "Machine: " + machine(context, results), ""]
    skipped = os.path.join(results, "skipped.txt")
    if os.path.exists(skipped) and os.path.getsize(skipped):
        out.append("Could not mount (so not measured):")
        with open(skipped) as f:
            out += [f"- {line.strip()}" for line in f if line.strip()]
        out.append("")

    out += ["## Events mode: rename of `..data` to callback (µs, p50 / p99 / max)", "",
            "One hub; N watchers, each on its own kubelet volume; one changes. "
            "*raw inotify* is a thread blocked in read(2) on its own inotify fd: the kernel's "
            "floor on the same machine in the same run.", "",
    ]
    columns = sorted({name for fs in fss for name in runs[fs]
                      if name.startswith("latency/events/")},
                     key=lambda n: (int(re.search(r"watchers:(\d+)", n).group(1)), n))

    def title(name):
        n = int(re.search(r"watchers:(\d+)", name).group(1))
        t = f"{n:,} watcher{'s' if n > 1 else ''}"
        m = re.search(r"safety_ms:(\d+)", name)
        return t + (f", safety poll every {int(m.group(1)) / 1000:g} s" if m else "")

    out += ["| filesystem | raw inotify | " + " | ".join(title(c) for c in columns) + " |",
            "| --- " * (len(columns) + 2) + "|"]
    for fs in fss:
        if fs in UNDERNEATH:
            continue
        out.append(f"| {fs} | {lat(find(runs, fs, 'latency/raw_inotify'))} | " +
                   " | ".join(lat(runs[fs].get(c)) for c in columns) + " |")

    out += ["", "## Poll mode: detection latency (ms, p50 / p99 / max) and CPU per poll", "",
            "The update lands at a random phase of the interval, so p50 is about half of it; "
            "the target is max ≤ interval + 2 ms. CPU: hub-thread ns per watched file per poll "
            "(stat-only polls, p50; *floor*: the same lstat/readlink syscalls and nothing else). "
            "On fuse and nfs_like the watcher runs in mode auto, which chose what the label says.", "",
            "| filesystem | interval | 1 file | 1,000 files | CPU plain file "
            "| floor plain | CPU kubelet key | floor kubelet |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for fs in fss:
        one = find(runs, fs, "latency/poll/files:1/") or find(runs, fs, "latency/auto/")
        many = find(runs, fs, "latency/poll/files:1000/")
        interval = one.get("interval_ms") if one else None
        label = ""
        auto = find(runs, fs, "latency/auto/")
        if auto:
            label = f" (auto → {auto.get('label', '').replace('mode=', '')})"

        def cpu(prefix):
            best = None
            for name, run in runs.get(fs, {}).items():
                if name.startswith(prefix):
                    best = run  # the largest file count comes last
            return fmt(best.get("cpu_ns_per_file_p50")) if best else "—"

        out.append(f"| {fs}{label} | {fmt(interval)} ms "
                   f"| {lat(one, unit=1000, digits=1)} | {lat(many, unit=1000, digits=1)} "
                   f"| {cpu('poll_cpu/plain/')} | {cpu('poll_floor/plain/')} "
                   f"| {cpu('poll_cpu/kubelet/')} | {cpu('poll_floor/kubelet/')} |")

    out += ["", "## Memory per watcher (bytes: RSS / heap), beyond the baseline", "",
            "| filesystem | events 1,000 | events 10,000 | poll 1,000 | poll 10,000 |",
            "| --- | --- | --- | --- | --- |"]
    for fs in fss:
        cells = []
        for mode in ("events", "poll"):
            for n in (1000, 10000):
                run = runs[fs].get(f"memory/{mode}/watchers:{n}")
                if fs in UNDERNEATH and mode == "poll":
                    run = runs[fs].get(f"memory/auto/watchers:{n}")
                cells.append(lat(run, ("rss_bytes_per_watcher", "heap_bytes_per_watcher")))
        out.append(f"| {fs}{' (auto)' if fs in UNDERNEATH else ''} | " + " | ".join(cells) + " |")

    if "tmpfs" in runs:
        out += ["", "## Read path on tmpfs: consistent read + SHA-256", "",
                "CPU time per reload of a file of that size (the benchmark thread's, so "
                "other load on the machine does not count).", "",
                "| size | read + SHA-256 (µs) | read (µs) | SHA-256 (µs) | read + SHA-256 (MiB/s) |",
                "| --- | --- | --- | --- | --- |"]
        for name, run in runs["tmpfs"].items():
            m = re.match(r"read_path/read\+sha256/bytes:(\d+)$", name)
            if not m:
                continue
            size = int(m.group(1))
            r = runs["tmpfs"].get(f"read_path/read/bytes:{size}")
            h = runs["tmpfs"].get(f"read_path/sha256/bytes:{size}")
            human = f"{size // 1048576} MiB" if size >= 1048576 else f"{size // 1024} KiB"

            def us(x):
                return fmt(x["cpu_time"], 1) if x else "—"

            out.append(f"| {human} | {us(run)} | {us(r)} | {us(h)} "
                       f"| {fmt(run.get('bytes_per_second', 0) / 1048576)} |")
    out.append("")
    return "\n".join(out)


def plot(runs, results, path):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    ax = axes[0]
    for fs in FS_ORDER:
        for name, style, tag in (("latency/events/watchers:1", "-", "1 watcher"),
                                 ("latency/events/watchers:10000", "--", "10,000"),
                                 ("latency/raw_inotify", ":", "raw inotify")):
            s = samples(results, fs, name)
            if s:
                ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], style,
                        color=COLORS[fs], linewidth=1.3 if style != ":" else 1.0,
                        label=f"{fs}, {tag}")
    ax.set_xscale("log")
    ax.set_xlabel("rename → callback (µs, log scale)")
    ax.set_ylabel("fraction of updates")
    ax.set_title("Events mode latency CDF")
    ax.axvline(1000, color="grey", linewidth=0.8)
    ax.text(1000, 0.5, " 1 ms", color="grey", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6.5, ncol=2, loc="lower right")

    ax = axes[1]
    interval = None
    for fs in FS_ORDER:
        for name, style, tag in (("latency/poll/files:1/", "-", "poll, 1 file"),
                                 ("latency/poll/files:1000/", "--", "poll, 1,000 files"),
                                 ("latency/auto/watchers:1", "-", "auto → poll")):
            full = next((n for n in runs.get(fs, {}) if n.startswith(name)), None)
            if not full:
                continue
            interval = runs[fs][full].get("interval_ms") or interval
            s = [x / 1000 for x in samples(results, fs, full)]
            if s and not (fs in UNDERNEATH and tag == "poll, 1 file" and
                          any(n.startswith("latency/auto/") for n in runs[fs])):
                ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], style,
                        color=COLORS[fs], linewidth=1.3, label=f"{fs}, {tag}")
    if interval:
        ax.axvline(interval, color="grey", linewidth=0.8)
        ax.axvline(interval + 2, color="grey", linewidth=0.8, linestyle=":")
        ax.text(interval, 0.5, "interval, + 2 ms ", color="grey", fontsize=8, ha="right")
    ax.set_xlabel("change → callback (ms)")
    ax.set_title("Poll mode detection CDF")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6.5, loc="lower right")

    ax = axes[2]
    fss = [fs for fs in FS_ORDER if fs in runs]
    bars = (("events", "RSS", "rss_bytes_per_watcher", "#4c72b0", None),
            ("events", "heap", "heap_bytes_per_watcher", "#4c72b0", "//"),
            ("poll", "RSS", "rss_bytes_per_watcher", "#dd8452", None),
            ("poll", "heap", "heap_bytes_per_watcher", "#dd8452", "//"))
    width = 0.2
    for k, (mode, what, key, color, hatch) in enumerate(bars):
        xs, ys = [], []
        for i, fs in enumerate(fss):
            run = None
            for n in (10000, 1000):
                run = runs[fs].get(f"memory/{mode}/watchers:{n}") or (
                    runs[fs].get(f"memory/auto/watchers:{n}") if mode == "poll" else None)
                if run:
                    break
            if run and key in run:
                xs.append(i + (k - 1.5) * width)
                ys.append(run[key])
        ax.bar(xs, ys, width, color=color, hatch=hatch, edgecolor="white",
               label=f"{mode}, {what}")
    ax.axhline(2048, color="grey", linewidth=0.8, linestyle=":")
    ax.text(len(fss) - 0.5, 2048, "2 KiB target", color="dimgrey", fontsize=8, va="bottom",
            ha="right")
    ax.set_xticks(range(len(fss)))
    ax.set_xticklabels(fss)
    ax.set_ylabel("bytes per watcher")
    ax.set_title("Memory per watcher, most watchers measured")
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    try:  # a 64-colour palette keeps the committed PNG small; the plot has few colours
        from PIL import Image
        Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)
    except ImportError:
        pass


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    results = sys.argv[1]
    runs, context = load(results)
    if not runs:
        print(f"no results in {results}/json", file=sys.stderr)
        return 1
    with open(os.path.join(results, "results.md"), "w") as f:
        f.write(table(runs, results, context))
    plot(runs, results, os.path.join(results, "across-filesystems.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
