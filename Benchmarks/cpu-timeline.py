#!/usr/bin/env python3
"""Runs a command and samples its CPU time (user + system, all threads, from /proc/PID/stat)
against wall time, so that figures taken on a shared, loaded machine can be read as CPU seconds.

    cpu-timeline.py [--every S] [--plan-bench] -- COMMAND [ARGS...]

Prints the command's output, then: wall, CPU (user+sys), peak RSS (from /proc/PID/status VmHWM),
and the CPU share the command got. With --plan-bench, the command is Benchmarks' plan-bench: its
first three phases (build-input, plan, diff (empty)) run back to back from the start, so the CPU
seconds spent in each are read off the timeline at the wall-clock boundaries plan-bench prints.
Resolution: the sampling interval (default 0.05 s) and the kernel's clock tick (10 ms).
"""
import os
import re
import subprocess
import sys
import time

args = sys.argv[1:]
every = 0.05
plan_bench = False
while args and args[0] != "--":
    if args[0] == "--every":
        every = float(args[1]); args = args[2:]
    elif args[0] == "--plan-bench":
        plan_bench = True; args = args[1:]
    else:
        sys.exit(f"unknown option {args[0]}")
args = args[1:]
tick = os.sysconf("SC_CLK_TCK")

t0 = time.monotonic()
proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
samples = [(0.0, 0.0)]
hwm = 0


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15)


last_cpu = 0.0
while proc.poll() is None:
    try:
        c = cpu_of(proc.pid)
        with open(f"/proc/{proc.pid}/status") as f:
            m = re.search(r"VmHWM:\s+(\d+)", f.read())
            if m:
                hwm = max(hwm, int(m.group(1)))
        last_cpu = c
        samples.append((time.monotonic() - t0, c))
    except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
    time.sleep(every)
out = proc.stdout.read()
wall = time.monotonic() - t0
import resource
r = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_total = r.ru_utime + r.ru_stime
samples.append((wall, cpu_total))
print(out, end="")


def cpu_at(t):
    for (ta, ca), (tb, cb) in zip(samples, samples[1:]):
        if ta <= t <= tb:
            return ca if tb == ta else ca + (cb - ca) * (t - ta) / (tb - ta)
    return samples[-1][1]


print(f"TIMELINE wall {wall:.2f} s; cpu {cpu_total:.2f} s (user {r.ru_utime:.2f}, sys {r.ru_stime:.2f}); "
      f"share {cpu_total / wall:.0%}; peak RSS {max(hwm, r.ru_maxrss) / 1024:.0f} MB; exit {proc.returncode}")
if plan_bench:
    phases = {}
    for name in ("build-input", "plan", "diff (empty)"):
        m = re.search(re.escape(name) + r"\s+([0-9.]+) s", out)
        if m:
            phases[name] = float(m.group(1))
    t = 0.0
    cpu = {}
    for name, w in phases.items():
        cpu[name] = cpu_at(t + w) - cpu_at(t)
        print(f"TIMELINE {name:<14} wall {w:8.3f} s  cpu {cpu[name]:7.3f} s")
        t += w
    if "plan" in cpu and "diff (empty)" in cpu:
        print(f"TIMELINE plan+diff      wall {phases['plan'] + phases['diff (empty)']:8.3f} s  "
              f"cpu {cpu['plan'] + cpu['diff (empty)']:7.3f} s")
sys.exit(proc.returncode)
