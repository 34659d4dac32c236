"""setkey-tui: setkey(8) for the IPsec SAD and SPD, with a live terminal UI."""

__version__ = "0.1.0"
