"""Running: one run (execute), a suite (suite_runner), executors, workers, limits, progress."""
