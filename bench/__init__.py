"""Benchmarks of the runtime at the plan's scale, each against a naive baseline measured in the same run."""
