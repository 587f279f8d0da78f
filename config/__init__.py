"""Settings for every parkcarbon process, read from PARKCARBON_* variables and one YAML file."""

from config.settings import CommonSettings, StackSettings, WorkerSettings, load

__all__ = ["CommonSettings", "StackSettings", "WorkerSettings", "load"]
