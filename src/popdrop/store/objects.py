"""Message objects in S3: exactly the bytes RETR sends before dot-stuffing (DESIGN invariant 4)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from popdrop.faces.faults import ObjectNotFound, StorageUnavailable
from popdrop.store.aws import aws_errors, batched, error_code

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

KEYS_PER_DELETE: Final = 1000  # S3's limit per DeleteObjects
_WHOLE_CHUNK: Final = 1024 * 1024  # read_whole's pieces (ingest's canonical rewrite, <= 40 MiB)


class ObjectBody:
    """One GetObject's body (`popdrop.faces.pop3.ObjectBody`), read in pieces of the caller's
    choosing (a RETR's first piece may be small, its next ones large) and closed by the caller."""

    __slots__ = ("_body",)

    def __init__(self, body: StreamingBody | None) -> None:
        self._body = body  # None: an empty range, nothing to read

    def read(self, size: int) -> bytes:
        """Up to `size` octets; b"" at the end."""
        if size < 1:
            raise ValueError(f"size must be positive, not {size}")
        if self._body is None:
            return b""
        with aws_errors():
            return self._body.read(size)

    def close(self) -> None:
        if self._body is not None:
            with aws_errors():
                self._body.close()


class Objects:
    """Every GetObject, PutObject and DeleteObjects of the bucket goes through here."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, key: str, data: bytes, content_type: str = "message/rfc822") -> None:
        with aws_errors():
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def check_bucket(self) -> None:
        with aws_errors():
            self._s3.head_bucket(Bucket=self._bucket)

    def publish(self, key: str, data: bytes, content_type: str) -> str:
        """Put the object unless it is there already (a derived copy: same key, same bytes)."""
        if not self._exists(key):
            self.put(key, data, content_type)
        return key

    def _exists(self, key: str) -> bool:
        with aws_errors():
            try:
                self._s3.head_object(Bucket=self._bucket, Key=key)
            except self._s3.exceptions.ClientError as error:
                if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
                    return False
                raise
        return True

    def stream(
        self, key: str, *, chunk_size: int, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Stream the object (octets [start, end) of it) from one GetObject.

        The request is made when iteration starts, so an error before the first chunk means
        nothing was read; the body is closed however iteration ends.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        body = self.open(key, start=start, end=end)
        try:
            while chunk := body.read(chunk_size):
                yield chunk
        finally:
            body.close()

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectBody:
        """GetObject of octets [start, end) (to the object's end when `end` is None), now."""
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"a range starts and ends at octet 0 or later, not {start}-{end}")
        if end is not None and end <= start:
            return ObjectBody(None)
        whole = end is None and start == 0
        last = "" if end is None else str(end - 1)
        response = self._get(key, None if whole else f"bytes={start}-{last}")
        return ObjectBody(None if response is None else response["Body"])

    def head(self, key: str, length: int) -> tuple[bytes, int]:
        """The first `length` octets (fewer if the object is shorter) and the object's size."""
        if length < 1:
            raise ValueError(f"length must be positive, not {length}")
        response = self._get(key, f"bytes=0-{length - 1}")
        if response is None:
            return b"", 0
        data = _read(response, length)
        content_range = response.get("ContentRange", "")  # "bytes 0-65535/1234567"
        size = int(content_range.rpartition("/")[2]) if content_range else response["ContentLength"]
        return data, size

    def tail(self, key: str, length: int) -> bytes:
        """The last `length` octets (a suffix range GET); fewer when the object is shorter."""
        if length < 1:
            raise ValueError(f"length must be positive, not {length}")
        response = self._get(key, f"bytes=-{length}")
        return b"" if response is None else _read(response, length)

    def read_whole(self, key: str) -> bytes:
        return b"".join(self.stream(key, chunk_size=_WHOLE_CHUNK))

    def download_url(
        self,
        key: str,
        *,
        seconds: int,
        content_type: str = "message/rfc822",
        disposition: str | None = None,
    ) -> str:
        """A presigned GetObject URL for the object, valid `seconds`, whose answer carries this
        Content-Type (and Content-Disposition). No request is made: the URL is signed with the
        caller's credentials, so it can do what they may."""
        params = {"Bucket": self._bucket, "Key": key, "ResponseContentType": content_type}
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        with aws_errors():
            return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def delete(self, keys: Sequence[str]) -> None:
        for batch in batched(keys, KEYS_PER_DELETE):
            with aws_errors():
                response = self._s3.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            if errors := response.get("Errors"):
                codes = sorted({error.get("Code", "") for error in errors})
                raise StorageUnavailable(f"{len(errors)} objects not deleted: {codes}")

    def _get(self, key: str, byte_range: str | None) -> GetObjectOutputTypeDef | None:
        """GetObject, of `byte_range` (an HTTP Range) when given; None when the range holds no
        octets: S3 answers 416 when it starts at or past the end (any range of an empty object)."""
        with aws_errors():
            try:
                if byte_range is None:
                    return self._s3.get_object(Bucket=self._bucket, Key=key)
                return self._s3.get_object(Bucket=self._bucket, Key=key, Range=byte_range)
            except self._s3.exceptions.NoSuchKey:
                raise ObjectNotFound(key) from None
            except self._s3.exceptions.ClientError as error:
                if error_code(error) == "InvalidRange":
                    return None
                raise


def _read(response: GetObjectOutputTypeDef, length: int) -> bytes:
    """Read a ranged GetObject's body whole and close it. read(length), not read(): should a
    server ignore the Range, stop at `length`."""
    body = response["Body"]
    with aws_errors():
        try:
            return body.read(length)
        finally:
            body.close()
