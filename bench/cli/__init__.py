"""The `bench` command: one module per command group; commands only parse and call."""
