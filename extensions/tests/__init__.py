"""The extensions' tests, ``test_NAME.py`` for ``extensions/NAME``."""
