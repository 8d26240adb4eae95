"""The handle as model-written code sees it: through the host bridge, inside a Monty sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlm_adk.context import open_context
from rlm_adk.sandbox.bridge import HostBridge, exposure_of


def test_declared_exposure(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    h = open_context(str(tmp_path))
    exposure = exposure_of(h)
    assert exposure is not None
    assert {"read", "lines", "grep", "chunks", "view"} <= set(exposure.methods)
    assert "add_text" not in exposure.methods and "close" not in exposure.methods
    assert exposure.lazy_attrs == ("files", "size")
    bridge = HostBridge(objects={"context": h})
    with pytest.raises(AttributeError):
        bridge.call_method(h, "close", (), {})
    with pytest.raises(PermissionError, match=r"'\.\.' is not allowed"):
        bridge.call_method(h, "read", ("x/../../etc/passwd",), {})
    with pytest.raises(FileNotFoundError):
        bridge.call_method(h, "read", (f"{tmp_path.name}/nope",), {})


async def test_sandbox_code_uses_the_handle(tmp_path: Path) -> None:
    from rlm_adk.sandbox.monty import MontySandbox

    (tmp_path / "log.txt").write_text("".join(f"row {i}\n" for i in range(100)) + "the needle\n")
    h = open_context(str(tmp_path))
    sandbox = MontySandbox()
    await sandbox.start(HostBridge(objects={"context": h}))
    try:
        result = await sandbox.run(
            "path = context.files[0].path\n"
            "m = context.grep('needle')[0]\n"
            "chunks = context.chunks(max_chars=200)\n"
            "print(path, context.size, m.line, m.offset, m.text)\n"
            "print(len(chunks), chunks[-1].text().splitlines()[-1])\n"
            "print(context.lines(path, 99, 2), context.read(path, 0, 5))\n"
            "sub = context.view(ranges={path: (0, 10)})\n"
            "print(sub.read(path))\n"
        )
    finally:
        await sandbox.close()
    assert result.error is None, result.error
    name = tmp_path.name
    lines = result.output.splitlines()
    assert lines[0] == f"{name}/log.txt {h.size} 101 {h.size - 7} the needle"
    assert lines[1].endswith("the needle")
    assert lines[2] == "['row 99', 'the needle'] row 0"
    assert lines[3] == "row 0"
