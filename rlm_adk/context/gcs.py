"""`GcsSource`: objects under `gs://bucket/prefix`, read by byte range through google-cloud-storage.

Reads are pinned to the object generation seen when listing, so an object overwritten meanwhile
cannot tear a read: the old generation is served, or (when it is gone) a clear error asks to
reopen the context. Transient errors (429, 5xx, dropped connections) are retried with bounded
exponential backoff; the rest are reported naming the bucket, never a credential.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from rlm_adk.context.base import AccessDenied, ContextError, FileInfo, NotFound
from rlm_adk.context.formats import content_type_for
from rlm_adk.context.uris import GcsTarget, check_relative, glob_regex

DEFAULT_PAGE_SIZE = 1000
DEFAULT_RETRY_SECONDS = 60.0
DEFAULT_TIMEOUT = 60.0


def _exceptions() -> Any:
    from google.api_core import exceptions

    return exceptions


class GcsSource:
    """A read-only view of the objects under `gs://bucket/prefix`. Thread-safe.

    `client` is a `google.cloud.storage.Client`; by default one is made on first use (it honours
    `STORAGE_EMULATOR_HOST` and application default credentials). Paths are object names, so the
    handle's path for `gs://b/a/x.txt` is `<name>/a/x.txt`.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        name: str | None = None,
        pattern: str | None = None,
        client: Any = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        retry_initial: float = 1.0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.name = name or bucket
        self.bucket_name = bucket
        self.prefix = prefix
        self._pattern = glob_regex(pattern) if pattern else None
        self._client = client
        self._owns_client = client is None
        self._page_size = page_size
        self._timeout = timeout
        self._retry_seconds = retry_seconds
        self._retry_initial = retry_initial
        self._lock = threading.Lock()
        self._bucket: Any = None
        self._generations: dict[str, int] = {}

    @classmethod
    def from_target(cls, target: GcsTarget, name: str, **kwargs: Any) -> GcsSource:
        """The source for a parsed `gs://` URI."""
        return cls(target.bucket, target.prefix, name=name, pattern=target.pattern, **kwargs)

    def describe(self) -> str:
        """Where this source reads."""
        return f"gs://{self.bucket_name}/{self.prefix}"

    def _where(self, obj: str | None = None) -> str:
        return f"gs://{self.bucket_name}/{obj if obj is not None else self.prefix}"

    def _get_bucket(self) -> Any:
        with self._lock:
            if self._bucket is None:
                if self._client is None:
                    self._client = _make_client(self._where())
                self._bucket = self._client.bucket(self.bucket_name)
            return self._bucket

    def _retry(self) -> Any:
        from google.cloud.storage.retry import DEFAULT_RETRY

        # Exponential backoff (x2, capped at 30 s) on 408/429/5xx and dropped connections.
        return DEFAULT_RETRY.with_timeout(self._retry_seconds).with_delay(
            initial=self._retry_initial, maximum=30.0, multiplier=2.0
        )

    # -- manifest -------------------------------------------------------------------------------

    def _selected(self, obj: str) -> bool:
        if obj.endswith("/"):
            return False  # a "folder" placeholder object
        if obj.startswith("/") or ".." in obj.split("/"):
            return False  # legal in GCS, but no safe path in a handle: never listed or read
        if self._pattern is not None:
            return bool(self._pattern.match(obj))
        if not self.prefix or self.prefix.endswith("/"):
            return obj.startswith(self.prefix)
        # `gs://b/reports` names the object `reports` or the folder `reports/`, not `reports2`.
        return obj == self.prefix or obj.startswith(self.prefix + "/")

    def list_files(self) -> list[FileInfo]:
        """Every selected object (all pages), in name order."""
        return list(self.iter_files())

    def iter_files(self) -> Iterator[FileInfo]:
        """The manifest, fetched page by page as it is consumed."""
        bucket = self._get_bucket()
        found = 0
        try:
            blobs = bucket.list_blobs(
                prefix=self.prefix or None,
                page_size=self._page_size,
                retry=self._retry(),
                timeout=self._timeout,
            )
            for page in blobs.pages:
                for blob in page:
                    if not self._selected(blob.name):
                        continue
                    generation = int(blob.generation or 0)
                    with self._lock:
                        self._generations[blob.name] = generation
                    found += 1
                    yield FileInfo(
                        path=blob.name,
                        size=int(blob.size or 0),
                        modified=blob.updated.isoformat() if blob.updated else None,
                        content_type=content_type_for(blob.name, blob.content_type),
                        version=str(generation),
                    )
        except Exception as exc:
            raise self._translate(exc, None) from None
        if not found and self.prefix and not self.prefix.endswith("/") and self._pattern is None:
            raise NotFound(f"no object or folder {self._where()}")

    # -- reads ----------------------------------------------------------------------------------

    def read_bytes(self, path: str, start: int, end: int) -> bytes:
        """Bytes `[start, end)` of object `path`, at the generation listed."""
        if end <= start:
            return b""
        check_relative(path, f"source {self.name!r}")
        if not self._selected(path):
            raise AccessDenied(f"{self._where(path)} lies outside {self._where()}")
        with self._lock:
            generation = self._generations.get(path)
        if generation is None:
            raise NotFound(f"no object {self._where(path)} in this context's listing")
        blob = self._get_bucket().blob(path, generation=generation or None)
        try:
            # `end` is inclusive for the client; raw_download keeps gzip-encoded objects' ranges exact.
            return blob.download_as_bytes(
                start=start,
                end=end - 1,
                raw_download=True,
                checksum=None,
                retry=self._retry(),
                timeout=self._timeout,
            )
        except Exception as exc:
            if _status(exc) == 416:
                return b""  # a range past the end (the object is shorter than listed)
            raise self._translate(exc, path, generation) from None

    def _translate(
        self, exc: Exception, obj: str | None, generation: int | None = None
    ) -> ContextError:
        status = _status(exc)
        where = self._where(obj)
        if isinstance(exc, ContextError):
            return exc
        if status == 404:
            if obj is not None and generation:
                return NotFound(
                    f"{where} changed or was deleted after it was listed (generation "
                    f"{generation} is gone); reopen the context to see the new version"
                )
            if obj is None:
                return NotFound(f"bucket gs://{self.bucket_name} does not exist or is not visible")
            return NotFound(f"no object {where}")
        if status in (401, 403):
            return AccessDenied(
                f"access denied to {where} (HTTP {status}); check the credentials' permissions on bucket {self.bucket_name!r}"
            )
        if status is not None:
            return ContextError(f"reading {where} failed (HTTP {status})")
        retry_error = getattr(_exceptions(), "RetryError", ())
        if isinstance(exc, retry_error):
            return ContextError(
                f"reading {where} failed: still failing after retrying for {self._retry_seconds:g} s"
            )
        return ContextError(f"reading {where} failed: {type(exc).__name__}")

    def close(self) -> None:
        """Closes the client's HTTP session if this source made the client."""
        with self._lock:
            client, self._client, self._bucket = self._client, None, None
        if client is not None and self._owns_client:
            http = getattr(client, "_http_internal", None)
            if http is not None and hasattr(http, "close"):
                http.close()


def _status(exc: Exception) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _make_client(where: str) -> Any:
    try:
        from google.cloud import storage
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise ContextError("reading gs:// URIs needs google-cloud-storage") from exc
    try:
        return storage.Client()
    except Exception as exc:
        # DefaultCredentialsError and friends: say what is missing, never what was found.
        raise ContextError(
            f"cannot create a Cloud Storage client for {where}: {type(exc).__name__}; "
            "set up application default credentials or STORAGE_EMULATOR_HOST"
        ) from None
