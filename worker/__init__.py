"""Celery side of the lab: pure workloads, the Celery app and its thin task wrappers, the latency target."""
