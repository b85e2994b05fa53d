from xdist_groups import pytest_collection_modifyitems  # noqa: F401 (a hook: pytest finds it by name)
