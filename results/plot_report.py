#!/usr/bin/env python3
# Plots of a parbench scaling report (parbench.scaling/1 JSON written by `parbench report`):
# per workload speedup, efficiency, step-time breakdown and memory per worker; bus bandwidth of the
# collectives. Each plot is written as PNG and SVG, to a temporary name and then renamed, so a
# failed run leaves no half-written image.
#   python3 plot_report.py OUT/scaling.json OUT/plots
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, MaxNLocator  # noqa: E402

MARKERS = "osD^v<>pPX*h"


def save(fig, folder, name):
    for ext in ("png", "svg"):
        final = os.path.join(folder, f"{name}.{ext}")
        temporary = os.path.join(folder, f".{name}.tmp.{os.getpid()}.{ext}")
        fig.savefig(temporary, format=ext, dpi=110, bbox_inches="tight")
        os.replace(temporary, final)
    plt.close(fig)


def setting_label(series, several):
    if not several:
        return series["strategy"]
    batch = "b/worker" if series["mode"] == "weak" else "batch"
    return f"{series['strategy']} ({series['mode']}, {batch} {series['batch']})"


def setting_title(group, report):
    settings = sorted({(s["mode"], s["batch"]) for s in group})
    parts = [f"{m} scaling, {'batch per worker' if m == 'weak' else 'global batch'} {b}" for m, b in settings]
    host = report["context"].get("host") or report["context"].get("host_name") or "?"
    return f"{'; '.join(parts)} on {host}"


def ran(point):
    return point["step_ms"]["median"] is not None


def worker_ticks(ax, workers):
    ax.xaxis.set_major_locator(FixedLocator(sorted(set(workers)) or [1]))


def legend_outside(ax, handles=None, labels=None):
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)


def scaling_plot(group, report, workload, folder, kind):
    """Speedup (with the ideal y = x) or efficiency in % (with 100 %) against workers."""
    cores = report.get("physical_cores")
    several = len({(s["mode"], s["batch"], s["precision"], s["backend"]) for s in group}) > 1
    fig, ax = plt.subplots(figsize=(8, 4.8))
    workers_seen, any_over, any_value = [], False, False
    for i, s in enumerate(group):
        pts = [p for p in s["points"] if ran(p) and p[kind] is not None]
        if not pts:
            continue
        any_value = True
        xs = [p["workers"] for p in pts]
        ys = [p[kind] * (100 if kind == "efficiency" else 1) for p in pts]
        workers_seen += xs
        marker = MARKERS[i % len(MARKERS)]
        (line,) = ax.plot(xs, ys, marker=marker, label=setting_label(s, several))
        over = [(x, y) for p, x, y in zip(pts, xs, ys) if p["oversubscribed"]]
        if over:
            any_over = True
            ax.plot([x for x, _ in over], [y for _, y in over], linestyle="none", marker=marker, markersize=11,
                    markerfacecolor="white", markeredgecolor=line.get_color(), markeredgewidth=1.5)
    if workers_seen:
        top = max(workers_seen)
        if kind == "speedup":
            ax.plot([1, top], [1, top], linestyle="--", color="gray", label="ideal (y = x)")
        else:
            ax.axhline(100, linestyle="--", color="gray", label="ideal (100 %)")
        worker_ticks(ax, workers_seen)
    if not any_value:
        ax.text(0.5, 0.5, "no 1-worker run: no speedup or efficiency", ha="center", va="center",
                transform=ax.transAxes)
    handles, labels = ax.get_legend_handles_labels()
    if any_over:
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="black"))
        labels.append(f"oversubscribed (workers > {cores if cores else '?'} cores)")
    legend_outside(ax, handles, labels)
    ax.set_xlabel("workers")
    ax.set_ylabel("speedup (x)" if kind == "speedup" else "efficiency (%)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{workload}: {kind} vs workers\n{setting_title(group, report)}", fontsize="medium")
    save(fig, folder, f"{kind}_{workload}")


def categories(group):
    """(x, label, point) for every point that ran, strategy by strategy, with a gap between strategies."""
    several = len({(s["mode"], s["batch"], s["precision"], s["backend"]) for s in group}) > 1
    cats, x = [], 0.0
    for s in group:
        points = [p for p in s["points"] if ran(p)]
        for p in points:
            cats.append((x, f"{setting_label(s, several)} ({p['workers']})", p))
            x += 1
        x += 0.6 if points else 0
    return cats


def bar_axes(n):
    return plt.subplots(figsize=(max(6.0, 0.55 * n + 3), 4.8))


def value(x):
    return 0.0 if x is None else x


def finish_bars(fig, ax, cats, ylabel, title, group, report, folder, name):
    """Axes, labels, legend and title shared by the per-(strategy, workers) bar charts; saves them."""
    if not cats:
        ax.text(0.5, 0.5, "no point ran", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([x for x, _, _ in cats])
    ax.set_xticklabels([c for _, c, _ in cats], rotation=45, ha="right", fontsize="small")
    ax.set_xlabel("strategy (workers)")
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    legend_outside(ax)
    ax.set_title(f"{title}\n{setting_title(group, report)}", fontsize="medium")
    save(fig, folder, name)


def breakdown_plot(group, report, workload, folder):
    cats = categories(group)
    fig, ax = bar_axes(len(cats))
    xs = [x for x, _, _ in cats]
    parts = {"compute": [], "exposed communication": [], "optimizer": [], "other": []}
    for _, _, p in cats:
        b = p["breakdown_ms"]
        step = p["step_ms"]["median"]
        compute, exposed, optimizer = value(b["compute"]), value(b["exposed_communication"]), value(b["optimizer"])
        parts["compute"].append(compute)
        parts["exposed communication"].append(exposed)
        parts["optimizer"].append(optimizer)
        parts["other"].append(max(0.0, step - compute - exposed - optimizer))
    bottom = [0.0] * len(cats)
    for name, values in parts.items():
        ax.bar(xs, values, bottom=bottom, label=name, width=0.7)
        bottom = [a + b for a, b in zip(bottom, values)]
    finish_bars(fig, ax, cats, "time per step (ms)", f"{workload}: step time breakdown (median step)",
                group, report, folder, f"breakdown_{workload}")


def memory_plot(group, report, workload, folder):
    cats = categories(group)
    fig, ax = bar_axes(len(cats))
    width = 0.27
    kinds = [("model_state", "model state, measured"), ("predicted_model_state", "model state, predicted"),
             ("activations", "activations")]
    for k, (key, label) in enumerate(kinds):
        xs = [x + (k - 1) * width for x, _, _ in cats]
        ax.bar(xs, [value(p["memory_per_worker_MB"][key]) for _, _, p in cats], width=width, label=label)
    finish_bars(fig, ax, cats, "memory per worker (MB)", f"{workload}: memory per worker", group, report, folder,
                f"memory_{workload}")


def size_label(b):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            v = b / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.3g} {unit}"
    return f"{b:.0f} B"


def busbw_plot(report, folder):
    """One panel per collective, so the lines of a panel differ only by rank count (colour) and
    communicator (line style: parbench's mpi solid, the raw MPI_Allreduce reference dashed)."""
    ops = sorted({c["op"] for c in report["collectives"]})
    comms = sorted({c["comm"] for c in report["collectives"]})
    ranks = sorted({c["ranks"] for c in report["collectives"]})
    styles = ["-", "--", ":", "-."]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    columns = 2 if len(ops) > 1 else 1
    rows = math.ceil(len(ops) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.6 * rows), squeeze=False)
    sizes = sorted({p["bytes"] for c in report["collectives"] for p in c["points"] if p["busbw_GBps"] is not None})
    # At most ~10 labelled sizes: every k-th one when the sweep is long.
    shown = sizes[::max(1, math.ceil(len(sizes) / 10))]
    for ax, op in zip(axes.flat, ops):
        for c in report["collectives"]:
            pts = [p for p in c["points"] if p["busbw_GBps"] is not None]
            if c["op"] != op or not pts:
                continue
            ax.plot([math.log2(p["bytes"]) for p in pts], [p["busbw_GBps"] for p in pts],
                    marker=MARKERS[ranks.index(c["ranks"]) % len(MARKERS)], markersize=4,
                    color=colors[ranks.index(c["ranks"]) % len(colors)],
                    linestyle=styles[comms.index(c["comm"]) % len(styles)])
        ax.set_title(op, fontsize="medium")
        ax.xaxis.set_major_locator(FixedLocator([math.log2(b) for b in shown]))
        ax.set_xticklabels([size_label(b) for b in shown], rotation=45, ha="right", fontsize="small")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(ops):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("bus bandwidth (GB/s)")
    for ax in axes[-1, :]:
        ax.set_xlabel("message size")
    handles = [Line2D([], [], color=colors[i % len(colors)], marker=MARKERS[i % len(MARKERS)], label=f"{n} ranks")
               for i, n in enumerate(ranks)]
    handles += [Line2D([], [], color="black", linestyle=styles[i % len(styles)],
                       label="MPI_Allreduce (raw)" if comm == "mpi_raw" else f"parbench {comm} comm")
                for i, comm in enumerate(comms)]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize="small", frameon=False)
    host = report["context"].get("host") or report["context"].get("host_name") or "?"
    fig.suptitle(f"collectives: bus bandwidth (nccl-tests definition) vs message size on {host}", fontsize="medium")
    fig.tight_layout()
    save(fig, folder, "busbw")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_report.py SCALING.json PLOT_FOLDER")
    with open(sys.argv[1]) as f:
        report = json.load(f)
    if report.get("schema") != "parbench.scaling/1":
        sys.exit(f"{sys.argv[1]}: not a parbench.scaling/1 report")
    folder = sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    workloads = []
    for s in report["series"]:
        if s["workload"] not in workloads:
            workloads.append(s["workload"])
    for workload in workloads:
        group = [s for s in report["series"] if s["workload"] == workload]
        scaling_plot(group, report, workload, folder, "speedup")
        scaling_plot(group, report, workload, folder, "efficiency")
        breakdown_plot(group, report, workload, folder)
        memory_plot(group, report, workload, folder)
    if report["collectives"]:
        busbw_plot(report, folder)


if __name__ == "__main__":
    main()
