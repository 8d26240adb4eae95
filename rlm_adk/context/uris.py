"""Parsing context URIs (local paths, globs, `gs://bucket/prefix`) and checking them against roots."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from rlm_adk.context.base import AccessDenied, ContextError, NotFound

_GLOB_CHARS = re.compile(r"[*?\[]")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


@dataclass(frozen=True)
class LocalTarget:
    """A local directory, with an optional glob (relative to it) or a single file inside it."""

    root: Path
    """The resolved directory the source reads inside."""
    pattern: str | None = None
    """A glob relative to `root` (`**` recurses), or None for every file."""
    single: str | None = None
    """One file's path relative to `root`, when the URI named a file."""


@dataclass(frozen=True)
class GcsTarget:
    """`gs://bucket/prefix`, with an optional glob on object names."""

    bucket: str
    prefix: str
    pattern: str | None = None


def is_gcs(uri: str) -> bool:
    """True for a `gs://` URI."""
    return uri.startswith("gs://")


def parse_gcs(uri: str) -> GcsTarget:
    """`gs://bucket/prefix[glob]` -> `GcsTarget` (the prefix stops before the first glob part)."""
    rest = uri[len("gs://") :]
    bucket, _, name = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise ContextError(f"not a valid GCS bucket name in {uri!r}")
    if ".." in name.split("/"):
        raise AccessDenied(f"'..' is not allowed in {uri!r}")
    if _GLOB_CHARS.search(name):
        parts = name.split("/")
        fixed = []
        for part in parts:
            if _GLOB_CHARS.search(part):
                break
            fixed.append(part)
        prefix = "/".join(fixed) + "/" if fixed else ""
        return GcsTarget(bucket, prefix, name)
    return GcsTarget(bucket, name)


def parse_local(uri: str) -> LocalTarget:
    """A local path, directory or glob -> `LocalTarget` with its real (symlink-free) root."""
    expanded = os.path.expanduser(uri)
    if _GLOB_CHARS.search(expanded):
        parts = Path(expanded).parts
        fixed: list[str] = []
        for part in parts:
            if _GLOB_CHARS.search(part):
                break
            fixed.append(part)
        base = Path(*fixed) if fixed else Path(".")
        pattern = "/".join(parts[len(fixed) :])
        root = base.resolve()
        if not root.is_dir():
            raise NotFound(f"no directory {str(base)!r} for the glob {uri!r}")
        return LocalTarget(root, pattern=pattern)
    path = Path(expanded)
    if not path.exists():
        raise NotFound(f"no such file or directory: {uri!r}")
    real = path.resolve()
    if real.is_dir():
        return LocalTarget(real)
    if not real.is_file():
        raise ContextError(f"{uri!r} is neither a regular file nor a directory")
    return LocalTarget(real.parent, single=real.name)


def inside(path: Path, root: Path) -> bool:
    """True if the real path `path` lies inside (or is) the real directory `root`."""
    return path == root or root in path.parents


def gcs_inside(target: GcsTarget, root: GcsTarget) -> bool:
    """True if `target` lies inside the bucket prefix `root`."""
    if target.bucket != root.bucket:
        return False
    if not root.prefix or root.prefix.endswith("/"):
        return target.prefix.startswith(root.prefix)
    return target.prefix == root.prefix or target.prefix.startswith(root.prefix + "/")


def local_base(uri: str) -> Path:
    """The real path a local URI reads under (its directory part before any glob)."""
    expanded = os.path.expanduser(uri)
    parts = Path(expanded).parts
    fixed: list[str] = []
    for part in parts:
        if _GLOB_CHARS.search(part):
            break
        fixed.append(part)
    return (Path(*fixed) if fixed else Path(".")).resolve()


def check_roots(uri: str, roots: list[str]) -> None:
    """Raises `AccessDenied` unless `uri` lies inside one of `roots` (checked before any access)."""
    gcs_target = parse_gcs(uri) if is_gcs(uri) else None
    local = None if gcs_target else local_base(uri)
    for root in roots:
        if gcs_target is not None:
            if is_gcs(root) and gcs_inside(gcs_target, parse_gcs(root)):
                return
        elif (
            local is not None
            and not is_gcs(root)
            and inside(local, Path(os.path.expanduser(root)).resolve())
        ):
            return
    raise AccessDenied(f"{uri!r} lies outside the allowed roots ({', '.join(roots)})")


def check_relative(path: str, where: str) -> None:
    """Refuses absolute paths, `..` segments and URIs where a path inside a source is expected."""
    if "://" in path or path.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:[\\/]", path):
        raise AccessDenied(f"{path!r}: absolute paths and URIs are not allowed in {where}")
    if ".." in re.split(r"[/\\]", path):
        raise AccessDenied(f"{path!r}: '..' is not allowed in {where}")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a `/`-separated glob: `**` spans directories, `*` and `?` stay in one segment."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i + 2)
            if close < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : close]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = close
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")
