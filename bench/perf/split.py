#!/usr/bin/env python3
"""Split `perf script -F comm,pid,tid,ip,sym` samples of the server's core by
where the time went, per process: the kernel's send path, the loopback
receive work it runs inline (softirq: the viewers' side of the network, on
the server's core only because this bench is one machine), and user space by
role. Usage: perf script -i perf.data -F comm,pid,tid,ip,sym | split.py PID...
(bench/README.md, "Where the server's core goes").
"""
import collections
import sys


def category(stack):
    joined = " ".join(stack)
    leaf = stack[0].split()
    if leaf[0].startswith("ffffffff"):
        if "handle_softirqs" in joined or "net_rx_action" in joined:
            return "kernel: loopback receive (softirq inline)"
        if any(s in joined for s in ("sendmmsg", "udp_sendmsg", "sendto", "sendmsg")):
            return "kernel: send path"
        if "recvfrom" in joined or "recvmsg" in joined:
            return "kernel: receive syscalls"
        return "kernel: scheduler, epoll, futex, other"
    fn = " ".join(leaf[1:])
    if "dtls" in joined:
        return "user: DTLS handshakes"
    if fn.startswith("crypto/"):
        return "user: AES-GCM"
    if "x/net/internal/socket" in fn or "ipv4." in fn:
        return "user: sendmmsg message packing"
    if "source).ingest" in joined or "slot).offer" in joined:
        return "user: reader fan-out (a queue entry per viewer)"
    if "writerPool).work" in joined or "batcher" in joined:
        if fn.startswith("runtime."):
            return "user: runtime under the writers"
        return "user: writers (forward, rewrite, seal setup)"
    if fn.startswith("runtime."):
        return "user: Go runtime (scheduler, GC)"
    if "pion" in fn or "rtcconn" in joined:
        return "user: pion, ICE, SRTCP, STUN"
    return "user: other"


def main(pids):
    counts = {p: collections.Counter() for p in pids}
    pid, stack = None, []
    for line in sys.stdin:
        if not line.strip():
            if pid in counts and stack:
                counts[pid][category(stack)] += 1
            pid, stack = None, []
        elif not line.startswith((" ", "\t")):
            pid, stack = line.split()[1].split("/")[0], []
        else:
            stack.append(line.strip())
    if pid in counts and stack:
        counts[pid][category(stack)] += 1
    total = {p: sum(counts[p].values()) for p in pids}
    print("| where | " + " | ".join("pid " + p for p in pids) + " |")
    print("|---|" + "---:|" * len(pids))
    for k in sorted({k for c in counts.values() for k in c}):
        cells = [f"{counts[p][k]} ({100 * counts[p][k] / max(total[p], 1):.0f} %)" for p in pids]
        print(f"| {k} | " + " | ".join(cells) + " |")
    print("| all samples | " + " | ".join(str(total[p]) for p in pids) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: perf script -F comm,pid,tid,ip,sym | split.py PID...")
    main(sys.argv[1:])
