"""Building blocks for method plugins: feature encodings and base classes."""
