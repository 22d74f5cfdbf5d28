"""Transports: bytes in, messages out. stdio here; the HTTP transports in ``http``."""
