"""The streaming worker: a thin async shell of I/O, batching and commits around the pure core."""
