"""The one error type for bad input: it names the file, the key and the value."""
from __future__ import annotations


class ConfigError(ValueError):
    """Bad input: a scenario key, a profile field, a results folder. Command-line tools exit 2."""

    def __init__(self, file: object, key: str, value: object, problem: str) -> None:
        self.file, self.key, self.value, self.problem = str(file), key, value, problem
        super().__init__(f"{file}: {key}: {problem} (got {value!r})")
