"""Shared test helpers (free ports, subprocess servers, S3 stand-in)."""
