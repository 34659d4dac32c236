"""Example scenarios (setkey scripts) and synthetic kernel messages for demos, tests and benchmarks."""

from importlib import resources

EXAMPLE = "example.conf"


def example_text() -> str:
    """The example scenario (SAs, policies, short lifetimes) as a setkey script."""
    return resources.files(__name__).joinpath(EXAMPLE).read_text(encoding="utf-8")
