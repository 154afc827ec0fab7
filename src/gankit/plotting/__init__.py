"""Figures; numbers are computed elsewhere."""
