#!/usr/bin/env python3
"""Submit a parbench sweep to SLURM: job arrays for the configurations, then the report.

    slurm/submit.py [options] [-- parbench sweep arguments]

The sweep's configurations (`parbench sweep ... --plan`) are grouped by the allocation they need
(MPI ranks, CPUs per task, GPUs, nodes); each group is one job array whose element K runs
`parbench sweep ... --only K --launcher srun` (ranks started by `srun --mpi=pmix`). A report job
depends on every array with afterok: it runs `parbench report` over the run folder
results/runs/<job id of the first array>/ once all elements succeeded, and is cancelled by SLURM
when one fails (--kill-on-invalid-dep). Every cluster differs, so partition, account, time
limit, modules and extra #SBATCH lines are options, also read from a JSON config file
(slurm/cluster.example.json). --dry-run prints the generated scripts instead of submitting them;
--wait waits for the report job and says which elements failed and why.

Shapes: on CPU partitions an MPI configuration of N ranks asks --ntasks=N (--ntasks-per-node T
spreads it over ceil(N/T) nodes) and an in-process one (serial threads, thread_pool, task_graph,
dp) one task with N x cpus-per-task CPUs. With --gpus-per-node G an MPI configuration gets one
GPU per rank (--gpus-per-task=1) on ceil(N/G) nodes, and an in-process one min(N, G) GPUs of one
node.
"""

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = ("partition", "account", "time", "modules", "sbatch", "gpus_per_node", "cpus_per_task",
            "ntasks_per_node", "overcommit", "parbench", "runs", "plots")


def fail(message):
    print(f"submit: error: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="slurm/submit.py", description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON file with any of: " + ", ".join(SETTINGS))
    parser.add_argument("--partition")
    parser.add_argument("--account")
    parser.add_argument("--time", help="time limit per job, e.g. 00:30:00")
    parser.add_argument("--module", dest="modules", action="append", help="module to load (repeatable)")
    parser.add_argument("--sbatch", action="append", help="extra #SBATCH line, e.g. --sbatch=--qos=debug")
    parser.add_argument("--gpus-per-node", type=int, help="GPU partition: one rank per GPU")
    parser.add_argument("--cpus-per-task", type=int)
    parser.add_argument("--ntasks-per-node", type=int, help="CPU partitions: spread ranks over nodes")
    parser.add_argument("--overcommit", action="store_true", default=None,
                        help="small test clusters: more ranks or threads than CPUs (--overcommit, one CPU per "
                             "task); the report marks such points oversubscribed")
    parser.add_argument("--parbench", help="parbench binary (default build/cpu/cli/parbench)")
    parser.add_argument("--runs", help="folder of run folders (default results/runs)")
    parser.add_argument("--no-plots", dest="plots", action="store_false", default=None)
    parser.add_argument("--dry-run", action="store_true", help="print the scripts, submit nothing")
    parser.add_argument("--wait", action="store_true", help="wait for the report job; exit 1 if it did not run")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits (default 3600)")
    parser.add_argument("sweep", nargs=argparse.REMAINDER, help="-- then parbench sweep arguments")
    args = parser.parse_args(argv)
    if args.sweep and args.sweep[0] == "--":
        args.sweep = args.sweep[1:]
    settings = {"time": "01:00:00", "modules": [], "sbatch": [], "gpus_per_node": 0, "cpus_per_task": 1,
                "ntasks_per_node": 0, "parbench": os.path.join(REPO, "build/cpu/cli/parbench"),
                "runs": os.path.join(REPO, "results/runs"), "plots": True, "overcommit": False}
    if args.config:
        try:
            with open(args.config) as f:
                loaded = json.load(f)
        except (OSError, ValueError) as error:
            fail(f"{args.config}: {error}")
        unknown = sorted(set(loaded) - set(SETTINGS))
        if unknown:
            fail(f"{args.config}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
        settings.update(loaded)
    for key in SETTINGS:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    settings["parbench"] = os.path.abspath(settings["parbench"])
    settings["runs"] = os.path.abspath(settings["runs"])
    if not os.access(settings["parbench"], os.X_OK):
        fail(f"{settings['parbench']} is not an executable parbench; build it (scripts/run.sh) or pass --parbench")
    settings["node_cpus"] = node_cpus() if settings["overcommit"] else 0
    for key in ("gpus_per_node", "cpus_per_task", "ntasks_per_node"):
        if not isinstance(settings[key], int) or settings[key] < 0:
            fail(f"{key} must be a non-negative integer, not {settings[key]!r}")
    return args, settings


def node_cpus():
    """The CPUs of the smallest node SLURM reports (sinfo), or 1 without a cluster to ask."""
    try:
        result = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True)
    except OSError:
        return 1
    counts = [int(c.rstrip("+")) for c in result.stdout.split() if c.rstrip("+").isdigit()]
    return min(counts) if result.returncode == 0 and counts else 1


def sweep_plan(settings, sweep):
    command = [settings["parbench"], "sweep", *sweep, "--plan", "--launcher", "srun"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"parbench sweep --plan failed: {result.stderr.strip() or result.stdout.strip()}")
    return json.loads(result.stdout)["runs"]


def is_mpi(run):
    return run["strategy"] == "collectives" or run["strategy"].startswith(("ddp", "zero"))


def shape(run, settings):
    """The #SBATCH resource lines a configuration needs, and a short name for its array."""
    n, cpus, gpus = run["workers"], settings["cpus_per_task"], settings["gpus_per_node"]
    if settings["overcommit"]:
        cpus = 1
    if is_mpi(run):
        lines = [f"--ntasks={n}", f"--cpus-per-task={cpus}"]
        if gpus:
            lines += [f"--nodes={math.ceil(n / gpus)}", f"--ntasks-per-node={min(n, gpus)}", "--gpus-per-task=1"]
        elif settings["ntasks_per_node"]:
            per_node = settings["ntasks_per_node"]
            lines += [f"--nodes={math.ceil(n / per_node)}", f"--ntasks-per-node={min(n, per_node)}"]
        else:
            lines.append("--nodes=1")
        return lines, f"mpi{n}"
    # Overcommitted, the threads of one task get every CPU of a node (they would share one otherwise:
    # tasks are bound to their CPUs).
    task_cpus = min(n, settings["node_cpus"]) if settings["overcommit"] else n * cpus
    lines = ["--nodes=1", "--ntasks=1", f"--cpus-per-task={task_cpus}"]
    if gpus:
        lines.append(f"--gpus-per-node={min(n, gpus)}")
    return lines, f"threads{n}"


def header(name, resources, settings, output_dir, extra=()):
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --output={output_dir}/%x-%j.out",
             f"#SBATCH --time={settings['time']}"]
    if settings.get("partition"):
        lines.append(f"#SBATCH --partition={settings['partition']}")
    if settings.get("account"):
        lines.append(f"#SBATCH --account={settings['account']}")
    overcommit = ["--overcommit"] if settings["overcommit"] else []
    lines += [f"#SBATCH {line}" for line in (*resources, *overcommit, *extra, *settings["sbatch"])]
    lines += ["set -euo pipefail"]
    lines += [f"module load {shlex.quote(m)}" for m in settings["modules"]]
    # The results of every array land in the folder named after the first array's job id.
    lines.append('run_dir="%s/${PARBENCH_RUN_ID:-$SLURM_ARRAY_JOB_ID}"' % settings["runs"])
    return lines


def array_script(name, resources, indexes, settings, sweep, output_dir):
    lines = header(name, resources, settings, output_dir, [f"--array=0-{len(indexes) - 1}"])
    lines += [
        "# srun no longer passes --cpus-per-task on to steps (SLURM 22.05+).",
        "export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK",
        f"configs=({' '.join(str(i) for i in indexes)})",
        "exec " + " ".join(shlex.quote(a) for a in [settings["parbench"], "sweep", *sweep])
        + ' --out "$run_dir" --launcher srun --only "${configs[$SLURM_ARRAY_TASK_ID]}"',
    ]
    return "\n".join(lines) + "\n"


def report_script(settings, output_dir):
    lines = header("parbench-report", ["--ntasks=1", "--cpus-per-task=1"], settings, output_dir)
    command = [settings["parbench"], "report"]
    lines.append("exec " + " ".join(shlex.quote(a) for a in command) + ' "$run_dir" --out "$run_dir" --force'
                 + ("" if settings["plots"] else " --no-plots"))
    return "\n".join(lines) + "\n"


def sbatch(script, options):
    result = subprocess.run(["sbatch", "--parsable", *options], input=script, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"sbatch {' '.join(options)} failed: {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]


def job_states(job_id):
    """(array task id or None, state, reason) of each element of a job SLURM still knows."""
    result = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True)
    states = []
    for line in result.stdout.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        states.append((fields.get("ArrayTaskId"), fields.get("JobState", "?"), fields.get("Reason", ""),
                       fields.get("StdOut", ""), fields.get("JobId", "")))
    return states


def failure_of(stdout_path):
    """The sweep's FAILED line (or the last line) of an element's output file."""
    try:
        with open(stdout_path) as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return "(no output file)"
    failed = [line for line in lines if line.startswith("FAILED:") or "error" in line]
    return (failed or lines or ["(empty output)"])[0]


def wait_for(arrays, report_id, timeout):
    deadline = time.monotonic() + timeout
    while True:
        report = job_states(report_id)
        state = report[0][1] if report else "UNKNOWN"
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            break
        if time.monotonic() > deadline:
            fail(f"report job {report_id} still {state} after {timeout:.0f} s")
        time.sleep(2)
    failed = []
    for array_id in arrays:
        for task, element_state, _, stdout, _ in job_states(array_id):
            if element_state != "COMPLETED":
                failed.append(f"{array_id}_{task} ({element_state}) {failure_of(stdout)}")
    return state, report[0][2], failed


def main(argv):
    args, settings = parse_args(argv)
    runs = sweep_plan(settings, args.sweep)
    groups = {}
    for run in runs:
        resources, name = shape(run, settings)
        groups.setdefault((tuple(resources), name), []).append(run["index"])
    output_dir = os.path.join(settings["runs"], "slurm")
    scripts = [(f"parbench-{name}", array_script(f"parbench-{name}", list(resources), indexes, settings, args.sweep,
                                                 output_dir))
               for (resources, name), indexes in groups.items()]
    report = report_script(settings, output_dir)
    if args.dry_run:
        for name, script in scripts:
            print(f"# ---- {name} (job array)\n{script}")
        print(f"# ---- parbench-report (sbatch --dependency=afterok:<the arrays> --kill-on-invalid-dep=yes)\n{report}")
        return 0
    os.makedirs(output_dir, exist_ok=True)
    arrays = []
    for name, script in scripts:
        options = [f"--export=ALL,PARBENCH_RUN_ID={arrays[0]}"] if arrays else []
        arrays.append(sbatch(script, options))
        print(f"submitted {name}: job array {arrays[-1]} ({script.count(chr(10))} lines)")
    run_dir = os.path.join(settings["runs"], arrays[0])
    report_id = sbatch(report, [f"--export=ALL,PARBENCH_RUN_ID={arrays[0]}",
                                "--dependency=afterok:" + ":".join(arrays), "--kill-on-invalid-dep=yes"])
    print(f"submitted parbench-report: job {report_id}, after {', '.join(arrays)}")
    print(f"results: {run_dir}/ (report.md, scaling.json, plots/); job output: {output_dir}/")
    if not args.wait:
        return 0
    state, reason, failed = wait_for(arrays, report_id, args.timeout)
    if state == "COMPLETED" and not failed:
        print(f"report written: {run_dir}/report.md")
        return 0
    print(f"submit: the report job {report_id} ended {state}" + (f" ({reason})" if reason and reason != "None" else "")
          + (": it did not run because array elements failed:" if failed else ""), file=sys.stderr)
    for line in failed:
        print(f"  {line}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
