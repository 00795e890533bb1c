// The engine: lock, build, run.
