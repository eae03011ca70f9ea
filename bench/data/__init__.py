"""Files: data and cache folders, safe paths, locks, signed artifacts, archives."""
