"""The benchmark harness (issue 6): `python -m tests.bench.run --scale 1m`. Not collected by pytest."""
