"""Example scenarios (setkey scripts) and synthetic kernel messages for demos, tests and benchmarks."""
