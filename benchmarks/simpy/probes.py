"""Plain SimPy model of dynasim's staleness probes (benchmarks/simpy/probes-100k.json).

Run:  pip install simpy  (measured with simpy 4.1.2, Python 3.11)
      python3 benchmarks/simpy/probes.py [--probes 100000] [--seed 1] [--coordinator node|client]

Time it with an optimised interpreter, as distributions ship it (on Debian,
/usr/bin/python3.11). A CPython built from source without --enable-optimizations (pyenv's
default) ran this model 1.38x slower on the same machine, which would flatter any ratio
measured against it (benchmarks/simpy/RESULTS.md, "Which Python").

Each probe writes a fresh key with (N, R, W) = (3, 1, 1), waits a delay drawn uniformly
from 0 to 100 ms after the acknowledgement, and reads the key once. Probes arrive as a
Poisson process at 200/s. Every message leg is exponential with mean 5 ms; storage is
instantaneous. Nothing fails, so there are no timeouts, hints or retries to model.

--coordinator node (default) is the path dynasim takes in the shipped scenario
(routing client_driven, versioning vector_clock): a vector-clock put cannot be versioned
by the client, so the client sends it to the key's first home replica, which coordinates:
it stores the version itself at once (a message to itself costs 0 ms, latency "local"),
sends it to the other N - 1 replicas, and after W acknowledgements answers the client.
The read is coordinated by the client itself: it asks the N replicas, the R-th reply answers.

--coordinator client is the textbook PBS model (Bailis et al.): the client sends the write
straight to the N replicas and is acknowledged at the W-th reply (what dynasim does for
client_driven under last_write_wins, where the client can version its own writes).

Prints probes, wall seconds of the simulation run (env.run, as dynasim's --timings wall_s),
probes per second, and P(fresh) overall and per t bin (t = read start - acknowledgement,
the bins of dynasim's consistency.t_visibility).
"""

import argparse
import random
import sys
import time

import simpy

NODES = 20  # 2 datacenters x 10 nodes; all links are exponential(5 ms) in the scenario
N, R, W = 3, 1, 1
PROBES_PER_S = 200.0
LEG_MEAN_MS = 5.0
DELAY_LOW_MS, DELAY_HIGH_MS = 0.0, 100.0
BIN_EDGES_MS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]


class Replica:
    def __init__(self):
        self.store = {}  # key -> version


class Model:
    def __init__(self, env, rng, probes, coordinator):
        self.env = env
        self.rng = rng
        self.probes = probes
        self.coordinator = coordinator
        self.replicas = [Replica() for _ in range(NODES)]
        self.results = []  # (t_ms, fresh)

    def leg(self):
        return self.rng.expovariate(1.0 / LEG_MEAN_MS)

    # --- write -----------------------------------------------------------------------
    def replica_write(self, sender, node, key, version, acks, done):
        # one-way to the replica, store, one-way back (0 ms when a node sends to itself)
        yield self.env.timeout(0.0 if node == sender else self.leg())
        self.replicas[node].store[key] = version
        yield self.env.timeout(0.0 if node == sender else self.leg())
        acks.append(node)
        if len(acks) == W:
            done.succeed()

    def write(self, key, version, targets):
        env = self.env
        if self.coordinator == "node":
            coord = targets[0]
            yield env.timeout(self.leg())  # client -> coordinating replica
        else:
            coord = None  # the client coordinates
        acks, done = [], env.event()
        for node in targets:
            env.process(self.replica_write(coord, node, key, version, acks, done))
        yield done
        if self.coordinator == "node":
            yield env.timeout(self.leg())  # coordinator -> client

    # --- read ------------------------------------------------------------------------
    def replica_read(self, node, key, replies, done):
        yield self.env.timeout(self.leg())  # client -> replica
        value = self.replicas[node].store.get(key)
        yield self.env.timeout(self.leg())  # replica -> client
        replies.append(value)
        if len(replies) == R:
            done.succeed(value)

    def read(self, key, targets):
        replies, done = [], self.env.event()
        for node in targets:
            self.env.process(self.replica_read(node, key, replies, done))
        value = yield done
        return value

    # --- probe -----------------------------------------------------------------------
    def probe(self, key):
        env = self.env
        targets = self.rng.sample(range(NODES), N)  # the key's N home replicas
        version = key  # every probe writes a fresh key once, so the key names its version
        yield from self.write(key, version, targets)
        acked_at = env.now
        yield env.timeout(self.rng.uniform(DELAY_LOW_MS, DELAY_HIGH_MS))
        read_at = env.now
        value = yield from self.read(key, targets)
        self.results.append((read_at - acked_at, value == version))

    def arrivals(self):
        for key in range(self.probes):
            self.env.process(self.probe(key))
            yield self.env.timeout(self.rng.expovariate(PROBES_PER_S / 1000.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--coordinator", choices=["node", "client"], default="node")
    args = ap.parse_args()

    env = simpy.Environment()
    model = Model(env, random.Random(args.seed), args.probes, args.coordinator)
    env.process(model.arrivals())
    started = time.perf_counter()
    env.run()
    wall = time.perf_counter() - started

    res = model.results
    fresh = sum(1 for _, f in res if f)
    print(f"simpy {simpy.__version__}, python {sys.version.split()[0]}, "
          f"coordinator={args.coordinator}, seed={args.seed}")
    print(f"probes: {len(res)}")
    print(f"wall seconds: {wall:.3f}")
    print(f"probes per second: {len(res) / wall:.0f}")
    print(f"P(fresh): {fresh / len(res):.4f} ({fresh} of {len(res)})")
    print("t bin (ms)     reads   fresh  p_fresh")
    edges = BIN_EDGES_MS + [None]
    for lo, hi in zip(edges[:-1], edges[1:]):
        inbin = [f for t, f in res if t >= lo and (hi is None or t < hi)]
        if inbin:
            print(f"{lo:>5}-{hi if hi is not None else '':<6} {len(inbin):>8} "
                  f"{sum(inbin):>7}  {sum(inbin) / len(inbin):.4f}")


if __name__ == "__main__":
    main()
