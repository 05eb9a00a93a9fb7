"""The S3 wire protocol, pure: SigV4, aws-chunked bodies, body checksums, bucket
names, conditional writes, listings."""
