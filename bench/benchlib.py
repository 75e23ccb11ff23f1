"""Helpers shared by the benchmark scripts in bench/ (processes, ports, /proc figures, the
machine's description). Not a script: the scripts import it from their own directory."""

import os
import platform
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Processes and ports.

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, name=None, timeout=15):
    """Waits until something accepts on 127.0.0.1:`port`; fails at once if `proc` exits."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name}: port {port} never opened" if name else
                       f"port {port} never opened")


def start(args, log_path, stdout=None):
    """Starts `args` in a process group of its own, stdin from /dev/null, stderr (and stdout,
    unless given) to `log_path`."""
    log = open(log_path, "wb")
    try:
        return subprocess.Popen(args, stdout=stdout or log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()


def stop(proc):
    """Stops a process this script started (and its own process group: nginx's workers)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def group_pids(proc):
    """The PIDs in `proc`'s process group (nginx: master and workers)."""
    out = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()] or [proc.pid]


# ---------------------------------------------------------------------------------------------
# CPU and memory from /proc.

def cpu_seconds(pids):
    """utime+stime (all threads) of the given processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / TICK


def cpu_seconds_fine(pids):
    """CPU time of the given processes' live threads, from the scheduler's nanosecond counters
    (/proc/PID/task/TID/schedstat): no 10 ms tick rounding, for processes using ~1 % of a core.
    Threads that exit between two readings take their time with them, so use it for servers
    whose threads live as long as the measurement."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except (FileNotFoundError, ProcessLookupError):
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total / 1e9


def all_cpu_seconds():
    """utime+stime of every process now running, by PID."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            t = cpu_seconds([int(name)])
            if t:
                out[int(name)] = t
    return out


def other_cpu_seconds(before, after, ours):
    """CPU time used between two all_cpu_seconds() snapshots by processes not in `ours`: the
    rest of the machine, to tell a disturbed run (processes that ended meanwhile are missed)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items() if pid not in ours)


def status_field(pid, field):
    """A field of /proc/PID/status (its first word), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split()[1]
    except FileNotFoundError:
        pass
    return None


def rss_mib(pids):
    """Resident memory of the given processes together, in MiB (NaN if none has any)."""
    values = [status_field(pid, "VmRSS") for pid in pids]
    values = [int(v) for v in values if v is not None]
    return sum(values) / 1024 if values else float("nan")


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


# ---------------------------------------------------------------------------------------------
# The machine.

def first_line(cmd):
    """The first line a command prints (stdout, then stderr), or "?"."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def machine_details(build, peers):
    """The machine, the sluice build and the peers' versions (`peers`: name -> version, in
    the order to print), as a dict in print order."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / (1 << 20)
    commit = first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    binary = os.path.join(build, "sluice")
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    return {"nproc": first_line(["nproc"]), "cpu": model, "kernel": platform.release(),
            "os": platform.platform(), "memory_gib": round(mem_gib, 1),
            **peers, "python": platform.python_version(),
            "sluice_commit": commit + (" (+ uncommitted changes in src/)" if dirty else ""),
            "sluice_binary": f"{binary}, modified " + time.strftime(
                "%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(binary))),
            "loadavg_at_start": open("/proc/loadavg").read().split(" ", 3)[:3]}
