"""
Cost per request by Go version: the same net/http hello server (stripped),
built by every Go toolchain of the matrix (Makefile GO_MATRIX, and the
system's 1.19), untraced and traced with the breakdown off and on, in one
run. A version whose probes land on single-stepped instructions shows up
in its cost.
"""
import os
import re

from . import overhead

KEYS = ("untraced", "trace", "trace-breakdown")


def servers(repo):
    """(label, path) for 1.19 and every version of the Makefile's GO_MATRIX."""
    with open(os.path.join(repo, "Makefile")) as f:
        m = re.search(r"^GO_MATRIX\s*:=\s*(.*)$", f.read(), re.M)
    versions = m[1].split() if m else []
    found = [("go1.19", os.path.join(repo, "out", "goservers", "nethttp-stripped"))]
    found += [(f"go{v}", os.path.join(repo, "out", "goservers", f"go{v}", "nethttp-stripped")) for v in versions]
    return found


def run(paths, p, rounds, work_dir, log):
    """Every version, every round, the three variants in rotating order: result dicts."""
    versions = paths["go_versions"]
    if p.get("ends_only"):
        versions = [versions[0], versions[-1]]
    return overhead.interleaved([(f"nethttp-{label}", path, {"go": label}) for label, path in versions],
                                KEYS, paths, p, rounds, work_dir, log)
