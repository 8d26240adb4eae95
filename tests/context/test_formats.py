"""PDF text behind the optional extra, uploads, in-memory text and views over sources."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rlm_adk.context import ContextError, NotFound, open_context, open_text

from .conftest import minimal_pdf


def test_pdf_text_is_extracted_lazily(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(minimal_pdf(["Hello PDF world", "Second page needle"]))
    h = open_context(str(tmp_path))
    path = f"{tmp_path.name}/report.pdf"
    info = h.files[0]
    assert info.content_type == "application/pdf"
    assert h.corpus.cache.stats.misses == 0  # listing read nothing
    text = h.read(path)
    assert "Hello PDF world" in text and "Second page needle" in text
    assert "\f" in text  # pages are separated by a form feed line
    [match] = h.grep("needle")
    assert h.lines(path, match.line - 1, 1) == [match.text]
    assert "".join(c.text() for c in h.chunks(max_chars=10, paths=[path])) == text
    h.close()


def test_pdf_without_the_extra_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "r.pdf").write_bytes(minimal_pdf(["x"]))
    monkeypatch.setitem(sys.modules, "pypdf", None)  # as if not installed
    h = open_context(str(tmp_path))
    with pytest.raises(ContextError, match=r"optional extra 'pdf' \(pypdf\)"):
        h.read(f"{tmp_path.name}/r.pdf")


def test_broken_pdf_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n")
    h = open_context(str(tmp_path))
    with pytest.raises(ContextError, match=r"bad\.pdf"):
        h.read(f"{tmp_path.name}/bad.pdf")


def test_uploads_join_the_handle_under_their_namespace(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("disk needle\n")
    h = open_context(str(tmp_path))
    path = h.add_text("notes/brief.md", "# Brief\nupload needle\n")
    assert path == "uploads/notes/brief.md"
    assert {f.path for f in h.files} == {f"{tmp_path.name}/a.txt", path}
    assert [m.path for m in h.grep("needle")] == [f"{tmp_path.name}/a.txt", path]
    assert h.files[-1].content_type == "text/markdown"
    h.add_text("notes/brief.md", "replaced\n")  # same name: the new text, never stale blocks
    assert h.read(path) == "replaced\n"
    with pytest.raises(ContextError):
        h.add_text("../escape.txt", "x")
    with pytest.raises(ContextError, match="not available on a view"):
        h.view(paths=[path]).add_text("x.txt", "x")


def test_open_text_and_views() -> None:
    h = open_text({"a.txt": "alpha\nbeta\n", "b.txt": "gamma\n"})
    assert h.read("text/a.txt") == "alpha\nbeta\n"
    view = h.view(paths=["text/b.txt"])
    assert [f.path for f in view.files] == ["text/b.txt"]
    with pytest.raises(NotFound):
        view.read("text/a.txt")
    assert view.grep("a") == [m for m in h.grep("a") if m.path == "text/b.txt"]
    sliced = h.view(ranges={"text/a.txt": [6, 100]})
    assert sliced.read("text/a.txt") == "beta\n"
    assert sliced.size == 5
    assert "view of 1 file(s)" in sliced.describe()
    with pytest.raises(ContextError, match="range for"):
        h.view(ranges={"text/a.txt": 5})  # type: ignore[dict-item]
    sliced.close()  # a view releases nothing
    assert h.read("text/b.txt") == "gamma\n"


def test_list_files_filters_and_limits() -> None:
    h = open_text({f"f{i}.{'md' if i % 2 else 'txt'}": "x" for i in range(10)})
    assert len(h.list_files(r"\.md$")) == 5
    assert len(h.list_files(limit=3)) == 3
    with pytest.raises(ContextError, match="invalid regex"):
        h.list_files("(")


def test_closed_handle_refuses_work(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    h = open_context(str(tmp_path))
    h.close()
    with pytest.raises(ContextError, match="closed"):
        h.read(f"{tmp_path.name}/a.txt")


def test_uploads_do_not_relist_other_sources() -> None:
    from rlm_adk.context import ContextHandle, TextSource

    class CountingSource(TextSource):
        listings = 0

        def list_files(self):  # type: ignore[no-untyped-def]
            CountingSource.listings += 1
            return super().list_files()

    h = ContextHandle([CountingSource({"a.txt": "a"}, name="big")])
    assert len(h.files) == 1
    h.add_text("b.txt", "b")
    h.add_text("b.txt", "b2")
    assert [f.path for f in h.files] == ["big/a.txt", "uploads/b.txt"]
    assert h.read("uploads/b.txt") == "b2"
    assert CountingSource.listings == 1


def test_fork_shares_sources_and_cache_but_not_uploads(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("shared needle\n")
    shared = open_context(str(tmp_path))
    shared.add_text("owner.txt", "only in the shared handle")
    one, two = shared.fork(), shared.fork()
    assert one.corpus.cache is shared.corpus.cache
    one.add_text("secret.txt", "session one needle")
    assert [f.path for f in one.files] == [f"{tmp_path.name}/a.txt", "uploads/secret.txt"]
    assert [f.path for f in two.files] == [f"{tmp_path.name}/a.txt"]
    with pytest.raises(NotFound):
        two.read("uploads/secret.txt")
    assert len(one.grep("needle")) == 2 and len(two.grep("needle")) == 1
    one.close()
    assert shared.read(f"{tmp_path.name}/a.txt") == "shared needle\n"  # still open
    assert two.read(f"{tmp_path.name}/a.txt") == "shared needle\n"
    view_fork = shared.view(paths=[f"{tmp_path.name}/a.txt"]).fork()
    view_fork.add_text("mine.txt", "x")
    assert [f.path for f in view_fork.files] == [f"{tmp_path.name}/a.txt", "uploads/mine.txt"]
