"""The test suite, a package so every test module has one name (``tests.<folder>.<module>``).

Without it pytest imported a folder's helpers by their bare file name (``budget_helpers``), which mypy
saw as a second module of the same file, and it could not type-check the suite.
"""
