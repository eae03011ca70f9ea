"""Contracts: task, split, method and dataset, metrics, run spec and record, their identity."""
