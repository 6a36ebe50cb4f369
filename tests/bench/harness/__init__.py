"""Sonde's benchmark harness (make bench, make bench-smoke): stdlib only."""
