#!/usr/bin/env python3
"""Count one process's samples by the goroutine (or thread) they ran on,
named by the root frame of each stack: which of the server's loops the time
is in. Usage: perf script -i perf.data -F comm,pid,tid,ip,sym | roots.py PID
(bench/README.md, session 11).
"""
import collections
import sys


def root(stack):
    syms = [" ".join(s.split()[1:]) for s in stack]
    frames = [s for s in syms if s and not s.startswith(("runtime.goexit", "[unknown]"))]
    if not frames:
        return "?"
    r = frames[-1]
    if r.startswith("runtime.") and len(frames) > 1 and "mstart" not in r:
        r = frames[-2] + " (via " + r + ")"
    return r.replace("github.com/", "")


def main(want):
    counts, total = collections.Counter(), 0
    pid, stack = None, []
    for line in list(sys.stdin) + [""]:
        if not line.strip():
            if pid == want and stack:
                counts[root(stack)] += 1
                total += 1
            pid, stack = None, []
        elif not line.startswith((" ", "\t")):
            pid, stack = line.split()[1].split("/")[0], []
        else:
            stack.append(line.strip())
    print(total, "samples")
    for name, n in counts.most_common(20):
        print(n, name[:200])


if __name__ == "__main__":
    main(sys.argv[1])
