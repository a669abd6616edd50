"""`producer advise`: an adaptive search of pools, concurrency and worker processes for one task."""
