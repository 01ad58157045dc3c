"""Typed domain objects shared by control/, deploy/ and runtime/.

Each resource is parsed once from its validated spec (the request that
created it, kept in the store so Describe can echo it back) into frozen
dataclasses that the rest of moorage reasons about.
"""
