"""Every setting of the lab: one typed object read from the environment, and the Celery config built from it."""

from config.settings import LabSettings, get_settings

__all__ = ["LabSettings", "get_settings"]
