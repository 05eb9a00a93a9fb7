"""aws-chunked decoding: AWS's signed example, botocore's unsigned trailer form, bad bodies."""

from __future__ import annotations

import base64
import io
import zlib

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from kaon.core.errors import BadDigest, InvalidInput, SignatureMismatch
from kaon.core.s3 import sigv4
from kaon.core.s3.awschunked import ChunkedDecoder
from kaon.core.s3.bodycheck import BodyCheck

SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
SIGS = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)


def aws_example() -> bytes:
    return (
        f"10000;chunk-signature={SIGS[0]}\r\n".encode()
        + b"a" * 65536
        + b"\r\n"
        + f"400;chunk-signature={SIGS[1]}\r\n".encode()
        + b"a" * 1024
        + b"\r\n"
        + f"0;chunk-signature={SIGS[2]}\r\n\r\n".encode()
    )


def signing() -> sigv4.Verified:
    key = sigv4.signing_key(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"
    )
    return sigv4.Verified(
        "AKIAIOSFODNN7EXAMPLE",
        sigv4.STREAMING_SIGNED,
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        key,
        SEED,
    )


def decode(decoder: ChunkedDecoder, body: bytes, step: int) -> bytes:
    out = b"".join(b"".join(decoder.feed(body[i : i + step])) for i in range(0, len(body), step))
    decoder.finish()
    return out


@pytest.mark.parametrize("step", [7, 4096, 1 << 20])
def test_aws_signed_example(step: int) -> None:
    body = aws_example()
    assert decode(ChunkedDecoder(signing()), body, step) == b"a" * 66560


def test_tampered_and_truncated() -> None:
    body = bytearray(aws_example())
    body[1000] = ord("b")
    with pytest.raises(SignatureMismatch):
        decode(ChunkedDecoder(signing()), bytes(body), 65536)
    d = ChunkedDecoder(signing())
    d.feed(aws_example()[:60000])
    with pytest.raises(InvalidInput, match="ended"):
        d.finish()


def test_botocore_unsigned_trailer() -> None:
    data = bytes(range(256)) * 3000
    wrapped = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=65536,
    ).read()
    d = ChunkedDecoder(None)
    assert decode(d, wrapped, 10000) == data
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert d.trailers == {"x-amz-checksum-crc32": crc}
    check = BodyCheck({"x-amz-trailer": "x-amz-checksum-crc32"}, sigv4.STREAMING_UNSIGNED_TRAILER)
    check.update(data)
    check.verify(d.trailers)
    check = BodyCheck({"x-amz-trailer": "x-amz-checksum-crc32"}, sigv4.STREAMING_UNSIGNED_TRAILER)
    check.update(data + b"x")
    with pytest.raises(BadDigest):
        check.verify(d.trailers)


def test_malformed() -> None:
    with pytest.raises(InvalidInput, match="size"):
        ChunkedDecoder(None).feed(b"zz\r\n")
    with pytest.raises(InvalidInput, match="longer"):
        ChunkedDecoder(None).feed(b"2\r\nabc\r\n")
    with pytest.raises(SignatureMismatch, match="chunk-signature"):
        ChunkedDecoder(signing()).feed(b"2\r\nab\r\n")


def test_body_check_sha256_and_md5() -> None:
    import hashlib

    data = b"hello world"
    good = BodyCheck(
        {"content-md5": base64.b64encode(hashlib.md5(data).digest()).decode()},
        hashlib.sha256(data).hexdigest(),
    )
    good.update(data)
    good.verify()
    assert good.md5_hex == hashlib.md5(data).hexdigest()
    bad = BodyCheck({}, hashlib.sha256(b"other").hexdigest())
    bad.update(data)
    with pytest.raises(BadDigest) as info:
        bad.verify()
    assert info.value.details["s3_code"] == "XAmzContentSHA256Mismatch"
