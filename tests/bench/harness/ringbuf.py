"""
Benchmark 1: Sonde's ring buffer reader against libbpf's ring_buffer__poll.

One producer process (ringbuf/producer.c) runs flat out on CPU 1: every
getpgid() it makes runs bpf/bench.bpf.c, which emits a batch of 64-byte
records. Each consumer in turn (ringbuf/consumer.c with libbpf, and
RingBufferBench with Sonde's RingBufferReader) loads its own copy of the
producer, runs on CPU 0 (all its threads: taskset), and reports what it
decoded. Two modes, each consumer in each round, order alternating:

  stream  the steady state: the consumer loops as it does in production
          (ring_buffer__poll; HttpTracer's ReadAsync loop); events/s, and
          the consumer's CPU time per event.
  drain   consumer-bound: the producer fills the ring for 20 ms, then the
          consumer empties it while the producer keeps refilling; only the
          drains are timed (wall and thread CPU time).
"""
import json
import subprocess

from . import procfs
from .processes import Background, BenchError

CONSUMERS = ("libbpf", "sonde")


def _consume(paths, which, producer_pid, mode, p):
    exe = paths["ringbuf_consumer"] if which == "libbpf" else paths["ringbuf_dotnet"]
    argv = ["taskset", "-c", "0", exe, paths["bench_bpf_o"], str(producer_pid), str(p["batch"]),
            str(p["ring_bytes"]), str(p["warmup_s"]), str(p["measure_s"]), mode]
    timeout = p["warmup_s"] + p["measure_s"] + 60
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"ring buffer consumer {which} ({mode}) did not finish within {timeout}s") from e
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"ring buffer consumer {which} ({mode}) exited with {out.returncode} "
                         f"and no result: {out.stderr.strip()[-1500:]}")
    if out.returncode != 0 or not result.get("ok"):
        raise BenchError(f"ring buffer consumer {which} ({mode}): books don't balance or it failed "
                         f"(exit {out.returncode}): {out.stdout.strip()} {out.stderr.strip()[-1500:]}")
    if result["events"] == 0:
        raise BenchError(f"ring buffer consumer {which} ({mode}) decoded nothing: is the producer running?")
    result.update(consumer_key=which, mode=mode)
    return result


def run(paths, p, rounds, log):
    """Runs every round; a list of result dicts (one per consumer, mode and round)."""
    results = []
    producer = Background(["taskset", "-c", "1", paths["ringbuf_producer"]], "ring buffer producer")
    try:
        for r in range(rounds):
            procfs.wait_for_quiet(p["quiet_wait_s"])
            for mode in ("stream", "drain"):
                order = CONSUMERS if (r + (mode == "drain")) % 2 == 0 else tuple(reversed(CONSUMERS))
                for which in order:
                    res = _consume(paths, which, producer.pid, mode, p)
                    res["round"] = r
                    results.append(res)
                    rate = res["events"] / res["cpu_seconds"] / 1e6 if res["cpu_seconds"] > 0 else 0
                    log(f"ringbuf round {r + 1}/{rounds} {mode:6} {which:6}: "
                        f"{res['events'] / res['seconds'] / 1e6:6.2f} M events/s, "
                        f"{rate:6.2f} M per consumer CPU-second")
    finally:
        rc = producer.stop(10)
        if rc != 0:
            raise BenchError(f"ring buffer producer exited with {rc}")
    return results
