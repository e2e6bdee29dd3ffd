"""Every test here needs the models extra: marked ``models`` (the simulator's mutation runs leave them out)."""
import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "modelside" in str(item.fspath):
            item.add_marker(pytest.mark.models)
