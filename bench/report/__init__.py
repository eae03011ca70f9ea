"""Rendering records: tables, statistics, plots, pages, expected numbers."""
