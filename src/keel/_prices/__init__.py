"""Helpers behind ``keel.pricing``: the genai-prices adapter, the input-token bound, usage normalisation."""

__all__: list[str] = []
