"""Measures the Python `limits` package's in-memory fixed-window limiter, single-threaded.

Usage: limits_baseline.py DECISIONS ROUNDS

Prints one JSON object: the median decisions per second over ROUNDS rounds of DECISIONS
`hit()` calls each, after a warm-up round. The limit is high enough that every hit is admitted,
as in the Swift side of the comparison.
"""

import json
import statistics
import sys
import time

from limits import RateLimitItemPerDay, storage, strategies


def main() -> None:
    decisions, rounds = int(sys.argv[1]), int(sys.argv[2])
    limiter = strategies.FixedWindowRateLimiter(storage.MemoryStorage())
    item = RateLimitItemPerDay(10**12)

    def run_round() -> float:
        start = time.perf_counter()
        for _ in range(decisions):
            limiter.hit(item, "bench-tenant", "debates")
        return decisions / (time.perf_counter() - start)

    run_round()
    rates = [run_round() for _ in range(rounds)]
    import limits

    print(json.dumps({"decisions_per_second": statistics.median(rates), "version": limits.__version__}))


if __name__ == "__main__":
    main()
