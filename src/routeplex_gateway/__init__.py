"""RoutePlex: a privacy-first AI gateway that records metadata only."""

__version__ = "0.1.0"
