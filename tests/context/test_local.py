"""Local sources: listing, formats, binary and invalid text, roots and every way out of them."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from rlm_adk.context import (
    AccessDenied,
    BinaryContent,
    ContextError,
    LocalSource,
    NotFound,
    open_context,
)


def test_directory_manifest_is_namespaced_and_typed(corpus_dir: Path) -> None:
    h = open_context(str(corpus_dir))
    files = {f.path: f for f in h.files}
    assert set(files) == {
        "corpus/a.txt",
        "corpus/notes.md",
        "corpus/data.json",
        "corpus/rows.jsonl",
        "corpus/table.csv",
        "corpus/image.png",
        "corpus/blob.dat",
        "corpus/sub/deep.txt",
    }  # hidden files are left out
    assert files["corpus/notes.md"].content_type == "text/markdown"
    assert files["corpus/data.json"].content_type == "application/json"
    assert files["corpus/rows.jsonl"].content_type == "application/x-ndjson"
    assert files["corpus/table.csv"].content_type == "text/csv"
    assert files["corpus/a.txt"].size == (corpus_dir / "a.txt").stat().st_size
    assert files["corpus/a.txt"].modified and files["corpus/a.txt"].version
    assert h.size == sum(f.size for f in h.files)
    assert "8 file(s)" in h.describe()


def test_nothing_is_read_until_asked(corpus_dir: Path) -> None:
    h = open_context(str(corpus_dir))
    h.files  # noqa: B018 - listing only
    assert h.corpus.cache.stats.misses == 0
    h.read("corpus/a.txt", 0, 5)
    assert h.corpus.cache.stats.misses >= 1


def test_text_formats_read_grep_and_chunk(corpus_dir: Path) -> None:
    h = open_context(str(corpus_dir))
    paths = {m.path for m in h.grep("needle")}
    assert paths == {
        "corpus/notes.md",
        "corpus/data.json",
        "corpus/rows.jsonl",
        "corpus/table.csv",
        "corpus/sub/deep.txt",
    }
    assert h.lines("corpus/table.csv", 1, 1) == ["1,needle"]
    chunks = h.chunks(max_chars=1000)
    assert {c.path for c in chunks} == {f.path for f in h.files} - {
        "corpus/image.png",
        "corpus/blob.dat",
    }


def test_binary_files_are_listed_but_not_read_as_text(corpus_dir: Path) -> None:
    h = open_context(str(corpus_dir))
    for path in ("corpus/image.png", "corpus/blob.dat"):
        with pytest.raises(BinaryContent, match=path):
            h.read(path)
        with pytest.raises(BinaryContent):
            h.lines(path)
        with pytest.raises(BinaryContent):
            h.grep("abc", paths=[path])
    assert h.read_bytes("corpus/blob.dat", 0, 4) == b"abc\x00"
    assert all(m.path != "corpus/blob.dat" for m in h.grep("def"))


def test_invalid_utf8_is_replaced_never_raised(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"ok \xff\xfe line\nsecond \xc3 line\n")
    h = open_context(str(tmp_path / "bad.txt"))
    path = h.files[0].path
    assert h.read(path) == "ok \ufffd\ufffd line\nsecond \ufffd line\n"
    assert h.lines(path) == ["ok \ufffd\ufffd line", "second \ufffd line"]
    assert [m.line for m in h.grep("line")] == [1, 2]


def test_single_file_and_glob_uris(corpus_dir: Path) -> None:
    single = open_context(str(corpus_dir / "a.txt"))
    assert [f.path for f in single.files] == ["corpus/a.txt"]
    glob = open_context(str(corpus_dir / "**" / "*.txt"))
    assert [f.path for f in glob.files] == ["corpus/a.txt", "corpus/sub/deep.txt"]
    top = open_context(str(corpus_dir / "*.json*"))
    assert [f.path for f in top.files] == ["corpus/data.json", "corpus/rows.jsonl"]


def test_several_sources_get_unique_names(tmp_path: Path) -> None:
    for name in ("one/data", "two/data"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "f.txt").write_text(name)
    h = open_context(str(tmp_path / "one/data"), str(tmp_path / "two/data"))
    assert [f.path for f in h.files] == ["data/f.txt", "data-2/f.txt"]
    assert h.read("data-2/f.txt") == "two/data"


def test_roots_refuse_uris_outside_them(tmp_path: Path, corpus_dir: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    with pytest.raises(AccessDenied, match="outside the allowed roots"):
        open_context(str(outside), roots=[str(corpus_dir)])
    with pytest.raises(AccessDenied):
        open_context(str(corpus_dir / ".." / "outside"), roots=[str(corpus_dir)])
    with pytest.raises(AccessDenied):
        open_context("gs://some-bucket/x", roots=[str(corpus_dir)])
    # A path inside a root, and a missing one inside it, behave as usual.
    assert open_context(str(corpus_dir / "sub"), roots=[str(corpus_dir)]).files
    with pytest.raises(NotFound, match="missing"):
        open_context(str(corpus_dir / "missing"), roots=[str(corpus_dir)])


def test_paths_that_escape_are_refused(corpus_dir: Path) -> None:
    h = open_context(str(corpus_dir))
    for bad in (
        "corpus/../corpus/a.txt",
        "/etc/passwd",
        "gs://other-bucket/x.txt",
        "corpus/sub/../../x",
        "~/x",
    ):
        with pytest.raises(AccessDenied):
            h.read(bad)
        with pytest.raises(AccessDenied):
            h.grep("x", paths=[bad])
    with pytest.raises(NotFound, match=r"no file 'corpus/nope\.txt'"):
        h.read("corpus/nope.txt")
    with pytest.raises(ContextError, match="must be a string"):
        h.read(3)  # type: ignore[arg-type]


def test_symlinks_out_of_the_root_are_not_listed_nor_read(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (root / "inside.txt").write_text("inside")
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")
    os.symlink(tmp_path, root / "up")
    os.symlink(root / "inside.txt", root / "alias.txt")
    h = open_context(str(root))
    assert sorted(f.path for f in h.files) == ["root/alias.txt", "root/inside.txt"]
    source = LocalSource(root, name="root")
    with pytest.raises(AccessDenied, match="resolves outside its root"):
        source.read_bytes("leak.txt", 0, 10)
    with pytest.raises(AccessDenied):
        source.read_bytes("up/secret.txt", 0, 10)


def test_a_file_swapped_for_a_symlink_after_listing_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (root / "f.txt").write_text("fine")
    h = open_context(str(root))
    assert h.files
    (root / "f.txt").unlink()
    os.symlink(tmp_path / "secret.txt", root / "f.txt")
    with pytest.raises(AccessDenied):
        h.read("root/f.txt")


def test_missing_paths_name_the_uri(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="nowhere"):
        open_context(str(tmp_path / "nowhere"))
    with pytest.raises(NotFound, match="nowhere"):
        open_context(str(tmp_path / "nowhere" / "*.txt"))


def test_reads_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 5000)
    h = open_context(str(tmp_path), max_read_bytes=1000)
    with pytest.raises(ContextError, match="exceeds the limit"):
        h.read(f"{tmp_path.name}/big.txt")
    assert len(h.read(f"{tmp_path.name}/big.txt", 0, 1000)) == 1000
    assert len(h.lines(f"{tmp_path.name}/big.txt", 0, 10)[0]) <= 1000 + 65536


def test_list_files_regex_is_linear_time(tmp_path: Path) -> None:
    import time

    (tmp_path / ("a" * 200 + ".txt")).write_text("x")
    h = open_context(str(tmp_path))
    started = time.perf_counter()
    assert h.list_files(r"(a+)+$") == []  # exponential for a backtracking engine
    assert len(h.list_files(r"a{3}\.txt$")) == 1
    assert time.perf_counter() - started < 2.0


def test_a_read_once_is_exact_and_leaves_the_block_cache_alone(tmp_path: Path) -> None:
    # Multi-byte characters across every boundary: the same partition rule as cached reads.
    (tmp_path / "u.txt").write_text("aé€😀\n" * 20_000, encoding="utf-8")
    h = open_context(str(tmp_path / "u.txt"))
    path = h.files[0].path
    size = h.files[0].size
    cuts = [*range(0, size, 4093), size]
    stats = h.corpus.cache.stats
    h.read(path, 0, 1, once=True)  # opening the document sniffs its head through the cache
    before = (stats.hits, stats.misses)
    once = [h.read(path, a, b, once=True) for a, b in itertools.pairwise(cuts)]
    assert (stats.hits, stats.misses) == before
    assert "".join(once) == (tmp_path / "u.txt").read_text(encoding="utf-8")
    cached = [h.read(path, a, b) for a, b in itertools.pairwise(cuts)]
    assert once == cached
    assert stats.misses > 0
