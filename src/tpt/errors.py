"""The package's own exception types, in a leaf module that imports nothing of tpt, so that any module (a task,
the config check, the launcher) can raise them without importing the modules above it."""


class ConfigError(ValueError):
    """A config value the run cannot use; the message names the key and says what to set instead."""
