"""Patent <-> enterprise matchmaking: ingest -> text -> encode -> index -> rank/explain -> export."""

__version__ = "0.1.0"
