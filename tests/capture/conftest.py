"""Fixtures for the capture tests: the shared moto S3 server and fresh buckets."""

from support.moto_s3 import moto_s3, s3_bucket

__all__ = ["moto_s3", "s3_bucket"]
