"""The S3-compatible gateway: a raw ASGI app served on its own port (see docs/s3.md)."""
