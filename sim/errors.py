"""The one error type for bad input: it names the file, the key and the value."""
from __future__ import annotations


class ConfigError(ValueError):
    """Bad input: a scenario key, a profile field, a results folder. Command-line tools exit 2.

    It survives pickling (``__reduce__``), so an error raised in a worker process reaches the
    parent intact and prints the same single line as in one process; its ``args`` rebuild it
    (SimPy re-raises an error from a simulation process as ``type(e)(*e.args)``).
    """

    def __init__(self, file: object, key: str, value: object, problem: str) -> None:
        self.file, self.key, self.value, self.problem = str(file), key, value, problem
        super().__init__(file, key, value, problem)

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.problem} (got {_short(self.value)})"

    def __reduce__(self):
        return (type(self), (self.file, self.key, _picklable(self.value), self.problem))


def _short(value: object, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _picklable(value: object) -> object:
    import pickle

    try:
        pickle.dumps(value)
        return value
    except Exception:  # noqa: BLE001 - any value that cannot cross a process boundary travels as text
        return repr(value)
