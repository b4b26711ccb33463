"""Test data carried by the repository (see each folder's README for where it comes from and its licence)."""

from pathlib import Path

REAL_INVOICES = Path(__file__).resolve().parent / "invoices" / "real"
