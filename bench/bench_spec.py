#!/usr/bin/env python3
"""The load test's copy of examples/billing.yaml.

  bench_spec.py EXAMPLE OUT REDIS

Its throttle rates raised (one user drives each run; the stock 1000/hour
would answer 429 after a second), and with REDIS=1 its buckets in Redis
(`throttle: { redis: { url_env: REDIS_URL, on_error: local } }`).
"""
import sys


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    text = open(argv[1]).read()
    edits = [("user: 1000/hour", "user: 1000000/second"), ("create: 30/minute", "create: 1000000/second")]
    if argv[3] == "1":
        edits.append(("throttle:\n  anon:", "throttle:\n  redis: { url_env: REDIS_URL, on_error: local }\n  anon:"))
    for old, new in edits:
        if text.count(old) != 1:
            sys.exit(f"examples/billing.yaml changed: expected one `{old}`")
        text = text.replace(old, new)
    open(argv[2], "w").write(text)


if __name__ == "__main__":
    main(sys.argv)
