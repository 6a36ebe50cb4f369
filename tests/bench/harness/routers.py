"""
Cost per request by router: the Go servers on each router Sonde reads routes
from (tests/goservers/*, Debian's router packages), built stripped by the
newest Go of the matrix, asked for a route with a parameter (/users/42),
untraced and traced with the breakdown off, in one run. What a router's
route probe costs shows in its probe hits and its throughput.
"""
import os
import re

from . import overhead

KEYS = ("untraced", "trace")

# (label, server, how Sonde knows the route)
ROUTERS = [
    ("net/http (no router)", "nethttp-stripped", "none: route null"),
    ("ServeMux patterns", "mux-stripped", "Request.Pattern at the end, no probe"),
    ("Gin", "gin-stripped", "Context.fullPath at Pool.Put"),
    ("echo", "echo-stripped", "context.path at Pool.Put"),
    ("chi", "chi-stripped", "Context.RoutePatterns at Pool.Put"),
    ("gorilla/mux", "gorillamux-stripped", "Route's template at requestWithRoute"),
    ("httprouter", "httprouter-stripped", "none: route null (1.3 keeps none)"),
]


def servers(repo):
    """(label, path, how) for each router, built by the Makefile's GO_NEWEST."""
    with open(os.path.join(repo, "Makefile")) as f:
        m = re.search(r"^GO_NEWEST\s*:=\s*(\S+)", f.read(), re.M)
    newest = m[1] if m else "1.27"
    return [(label, os.path.join(repo, "out", "goservers", f"go{newest}", server), how) for label, server, how in ROUTERS]


def run(paths, p, rounds, work_dir, log):
    """Every router, every round, untraced and traced in rotating order: result dicts."""
    routers = paths["routers"]
    if p.get("ends_only"):
        routers = [routers[0], routers[-2]]
    return overhead.interleaved([(label, path, {"router": label, "how": how}) for label, path, how in routers],
                                KEYS, paths, p, rounds, work_dir, log, url_path="/users/42")
