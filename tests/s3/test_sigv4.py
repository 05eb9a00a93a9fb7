"""SigV4 against AWS's published examples, and against botocore's own signer."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kaon.core.errors import (
    InvalidInput,
    PermissionDenied,
    RequestTimeSkewed,
    SignatureMismatch,
    UnknownAccessKey,
)
from kaon.core.s3 import sigv4

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WHEN = 1369353600.0  # 20130524T000000Z


def secret_of(key: str) -> str:
    if key != AKID:
        raise UnknownAccessKey(f"unknown key {key}")
    return SECRET


def test_get_object_example() -> None:
    """docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: GET Object."""
    sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    headers = {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": sigv4.EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request,"
        f"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={sig}",
    }
    got = sigv4.verify("GET", "/test.txt", "", headers, secret_of, WHEN)
    assert got.access_key == AKID and got.seed == sig
    request = sigv4.canonical_request(
        "GET",
        "/test.txt",
        [],
        headers,
        ["host", "range", "x-amz-content-sha256", "x-amz-date"],
        sigv4.EMPTY_SHA256,
    )
    sts = sigv4.string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", request)
    assert sts.endswith("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
    headers["range"] = "bytes=0-10"
    with pytest.raises(SignatureMismatch):
        sigv4.verify("GET", "/test.txt", "", headers, secret_of, WHEN)


def test_presigned_example() -> None:
    """The presigned-URL example of the same guide (expires in 86400 s)."""
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={AKID}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    headers = {"host": "examplebucket.s3.amazonaws.com"}
    assert sigv4.verify("GET", "/test.txt", query, headers, secret_of, WHEN + 60).payload_hash == (
        sigv4.UNSIGNED_PAYLOAD
    )
    with pytest.raises(RequestTimeSkewed, match="expired"):
        sigv4.verify("GET", "/test.txt", query, headers, secret_of, WHEN + 86401)
    with pytest.raises(SignatureMismatch):
        sigv4.verify("GET", "/other.txt", query, headers, secret_of, WHEN + 60)


def test_streaming_seed_example() -> None:
    """sigv4-streaming.html: the seed signature of a chunked PUT."""
    sig = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": sigv4.STREAMING_SIGNED,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
        "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        f"x-amz-decoded-content-length;x-amz-storage-class,Signature={sig}",
    }
    got = sigv4.verify("PUT", "/examplebucket/chunkObject.txt", "", headers, secret_of, WHEN)
    assert got.seed == sig and got.payload_hash == sigv4.STREAMING_SIGNED


def _headers(request: AWSRequest) -> dict[str, str]:
    out = {k.lower(): str(v) for k, v in request.headers.items()}
    out.setdefault("host", urlsplit(request.url).netloc)
    return out


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/master.repo/data/x.csv", ""),
        ("/master.repo/a%20b/%C3%A9t%C3%A9%2Bplus~tilde.txt", ""),
        ("/master.repo", "list-type=2&prefix=a%2Fb%20c&delimiter=%2F&max-keys=10"),
        ("/master.repo/k", "uploads="),
    ],
)
def test_botocore_signatures_verify(path: str, query: str) -> None:
    creds = Credentials(AKID, SECRET)
    url = f"http://127.0.0.1:5267{path}" + (f"?{query}" if query else "")
    request = AWSRequest("PUT", url, data=b"hello", headers={"Content-Type": "text/plain"})
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    amz = request.headers["X-Amz-Date"]
    now = sigv4.amz_time(amz)
    got = sigv4.verify("PUT", path, query, _headers(request), secret_of, now)
    assert got.payload_hash == sigv4.hashlib.sha256(b"hello").hexdigest()

    presign = AWSRequest("GET", url)
    S3SigV4QueryAuth(creds, "s3", "eu-west-3", expires=300).add_auth(presign)
    parts = urlsplit(presign.url)
    sigv4.verify("GET", parts.path, parts.query, _headers(presign), secret_of, now + 10)


def test_refusals() -> None:
    with pytest.raises(PermissionDenied, match="anonymous"):
        sigv4.verify("GET", "/", "", {"host": "h"}, secret_of, WHEN)
    auth = "AWS4-HMAC-SHA256 Credential=NOPE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=00"
    headers = {
        "host": "h",
        "x-amz-date": "20130524T000000Z",
        "authorization": auth,
        "x-amz-content-sha256": sigv4.UNSIGNED_PAYLOAD,
    }
    with pytest.raises(UnknownAccessKey):
        sigv4.verify("GET", "/", "", headers, secret_of, WHEN)
    headers["authorization"] = auth.replace("NOPE", AKID)
    with pytest.raises(RequestTimeSkewed):
        sigv4.verify("GET", "/", "", headers, secret_of, WHEN + 3600)
    with pytest.raises(InvalidInput):
        sigv4.verify("GET", "/", "", {**headers, "authorization": "AWS AKID:sig"}, secret_of, WHEN)


def _spec_signature(headers: dict[str, str], signed: list[str], amz_date: str) -> str:
    """The signature of a GET /b/k, computed from the spec (independently of kaon.core.s3.sigv4)."""
    import hashlib
    import hmac

    rows = [f"{h}:{headers[h]}" for h in signed]
    payload = headers["x-amz-content-sha256"]
    canonical = "\n".join(["GET", "/b/k", "", *rows, "", ";".join(signed), payload])
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{SECRET}".encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_a_date_header_signs_instead_of_x_amz_date() -> None:
    """SigV4 takes the request time from X-Amz-Date, or else from Date (RFC 7231)."""
    headers = {
        "host": "127.0.0.1:5267",
        "date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-content-sha256": sigv4.EMPTY_SHA256,
    }
    signed = ["date", "host", "x-amz-content-sha256"]
    signature = _spec_signature(headers, signed, "20130524T000000Z")
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request,"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    assert sigv4.verify("GET", "/b/k", "", headers, secret_of, WHEN).access_key == AKID
    with pytest.raises(RequestTimeSkewed):  # and its time is checked like X-Amz-Date's
        sigv4.verify("GET", "/b/k", "", headers, secret_of, WHEN + 3600)


@pytest.mark.parametrize("expires", [0, -7, 604801])
def test_a_presigned_expiry_out_of_range_is_access_denied(expires: int) -> None:
    """403 AccessDenied, as S3 answers (and s3-tests expects), not 400."""
    query = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F20130524%2Fus-east-1%2Fs3"
        f"%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires={expires}"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
    )
    with pytest.raises(PermissionDenied, match="X-Amz-Expires") as exc:
        sigv4.verify("GET", "/b/k", query, {"host": "h"}, secret_of, WHEN)
    assert not isinstance(exc.value, SignatureMismatch)
