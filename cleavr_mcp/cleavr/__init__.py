"""Cleavr Connect API: contract seams, models, and the async client."""
