"""The runnable programs behind ``python -m rfc3261 PROGRAM``: ua, registrar, proxy.

:mod:`rfc3261.programs.common` holds what they share (``--listen``, the TOML
configuration file, wire logging, signals, the event loop).
"""
