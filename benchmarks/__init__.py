"""Side-by-side speed measurements (``python -m benchmarks.run``)."""
