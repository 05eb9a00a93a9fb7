"""The S3 gateway's use cases over the ports: objects, multipart uploads,
conditional writes, credentials and who a key acts for."""
