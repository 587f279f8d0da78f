"""Meter simulators for development, tests and benchmarks; never imported by production code."""
