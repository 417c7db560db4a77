"""The benchmark harness: mock upstream, load generator, targets, runner (see README.md)."""
