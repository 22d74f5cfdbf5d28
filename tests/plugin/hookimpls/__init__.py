"""Plugins written as modules of hookimpls, using pluggy's options (used by test_hooks.py).

Each module records what its implementations saw in its ``SEEN`` list.
"""
