"""Every test in this folder is marked `slow` (whole training runs, in child processes or in this one):
`make test-fast` leaves them out."""
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(items):
    # A conftest's collection hook sees the whole session's items, not only this folder's.
    for item in items:
        if os.path.dirname(str(item.path)) == HERE:
            item.add_marker(pytest.mark.slow)
