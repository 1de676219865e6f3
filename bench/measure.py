#!/usr/bin/env python3
"""Run one command and print its wall time and peak memory.

  measure.py [--log FILE] [--cwd DIR] -- CMD [ARGS...]

Prints one line: `wall_s=<seconds> maxrss_kb=<KiB> rc=<exit status>`.
Wall time is measured around fork/exec/wait with a monotonic clock (the
Python start-up is outside it); peak memory is the child's ru_maxrss from
wait4, i.e. the largest resident set of the command's process (for java,
the JVM). The command's own output goes to FILE (default /dev/null).
"""
import os
import sys
import time


def main(argv):
    log, cwd = os.devnull, None
    args = argv[1:]
    while args and args[0] != "--":
        if args[0] == "--log":
            log, args = args[1], args[2:]
        elif args[0] == "--cwd":
            cwd, args = args[1], args[2:]
        else:
            sys.exit(__doc__)
    if not args or len(args) < 2:
        sys.exit(__doc__)
    import tempfile
    fd, rss_file = tempfile.mkstemp(prefix="measure-rss-")
    os.close(fd)
    cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + args[1:]
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if cwd:
                os.chdir(cwd)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, _ = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    text = open(rss_file).read().split()
    os.unlink(rss_file)
    usage = int(text[-1]) if text and text[-1].isdigit() else -1
    print(f"wall_s={wall:.6f} maxrss_kb={usage} rc={rc}")


if __name__ == "__main__":
    main(sys.argv)
