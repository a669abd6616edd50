"""Watching: live throughput from Celery's task events."""
