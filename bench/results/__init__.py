"""Run records on disk: the store and its export."""
