"""Finding plugins: the registry, the import probe, contract checks, the scaffold."""
