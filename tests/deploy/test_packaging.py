"""What the deployments package: the staged agent folder for `adk deploy`, the staged `rlm_adk`
package, where the Monty worker binary lands, and the network guard the other tests rely on."""

from __future__ import annotations

import importlib.metadata
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from dotenv import dotenv_values

from deploy.common import (
    DATABASE_DRIVERS,
    MONTY_REQUIREMENT,
    DeployError,
    SecretRef,
    build_env,
    cloud_run_requirements,
    read_project,
)
from deploy.sandbox_check import check_monty
from deploy.stage import ADK_AGENT_ENGINE_SDK, stage_agent_folder, stage_package
from deploy.stage import main as stage_main
from rlm_adk.config import RLMConfig
from tests.deploy import netguard


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    """An agent folder like agents/rlm, with a developer's .env that must never be shipped."""
    folder = tmp_path / "src" / "rlm"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("from . import agent\n")
    (folder / "agent.py").write_text("app = None\n")
    (folder / ".env").write_text("GOOGLE_API_KEY=AIza-developer-key\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "agent.cpython-311.pyc").write_bytes(b"\0")
    return folder


def test_staged_folder_for_cloud_run(tmp_path: Path, agent_dir: Path) -> None:
    env = build_env({"RLM_MAX_DEPTH": "3", "RLM_CONTEXT": 'gs://a/"q"/,gs://b/'}, {})
    folder = stage_agent_folder(tmp_path / "out", "cloud_run", env, agent_dir=agent_dir)
    assert sorted(p.name for p in folder.iterdir()) == [
        ".env",
        "__init__.py",
        "agent.py",
        "requirements.txt",
    ]
    assert "AIza" not in (folder / ".env").read_text()
    # What the container's agent module will read (ADK loads .env with python-dotenv).
    settings = dotenv_values(folder / ".env")
    config = RLMConfig.from_env({k: v for k, v in settings.items() if v is not None})
    assert config.max_depth == 3 and config.context == ['gs://a/"q"/', "gs://b/"]
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert requirements == cloud_run_requirements()
    assert MONTY_REQUIREMENT in requirements and set(DATABASE_DRIVERS) <= set(requirements)


def test_staged_folder_for_agent_engine(tmp_path: Path, agent_dir: Path) -> None:
    folder = stage_agent_folder(
        tmp_path / "out",
        "agent_engine",
        build_env({}, {}),
        agent_dir=agent_dir,
        engine_config={"resource_limits": {"cpu": "4", "memory": "8Gi"}, "max_instances": 3},
    )
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert requirements == [*read_project().dependencies, ADK_AGENT_ENGINE_SDK]
    assert not (folder / ".env").exists()
    engine = (folder / ".agent_engine_config.json").read_text()
    assert '"max_instances": 3' in engine and '"memory": "8Gi"' in engine
    with pytest.raises(DeployError, match="secret env"):
        stage_agent_folder(
            tmp_path / "out",
            "agent_engine",
            build_env({}, {"GOOGLE_API_KEY": SecretRef("k")}),
            agent_dir=agent_dir,
        )


def test_stage_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "build"
    assert stage_main(["--target", "cloud_run", "--out", str(out), "--env", "RLM_MAX_DEPTH=2"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder == out / "rlm" and (folder / "agent.py").is_file()
    assert dotenv_values(folder / ".env") == {"RLM_MAX_DEPTH": "2"}
    # Cloud Run may set the project; Agent Engine refuses it (the platform sets it).
    project = ["--env", "GOOGLE_CLOUD_PROJECT=p"]
    assert stage_main(["--target", "cloud_run", "--out", str(out), *project]) == 0
    assert stage_main(["--target", "agent_engine", "--out", str(out), *project]) == 2


def test_staged_package_is_clean_and_complete(tmp_path: Path) -> None:
    staged = stage_package(tmp_path)
    files = {str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file()}
    assert {"__init__.py", "agent.py", "prompts.py", "config.py"} <= files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    package = Path(sys.modules["rlm_adk"].__file__).parent
    expected = {
        str(p.relative_to(package))
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert files == expected


def test_monty_worker_binary_lands_in_the_scripts_directory() -> None:
    # pydantic-monty==1.4.0 -> pydantic-monty-runtime, whose wheel installs bin/monty.
    requires = importlib.metadata.requires("pydantic-monty") or []
    assert "pydantic-monty-runtime==1.4.0" in requires
    files = importlib.metadata.files("pydantic-monty-runtime") or []
    (binary,) = [f for f in files if f.name == "monty"]
    location = Path(binary.locate()).resolve()
    assert location == (Path(sysconfig.get_path("scripts")) / "monty").resolve()
    report = check_monty()
    assert Path(report.binary).resolve() == location
    assert report.output == "monty ok 42"


def test_network_guard_refuses_non_loopback(tmp_path: Path) -> None:
    netguard.install()
    try:
        with pytest.raises(netguard.NetworkRefused), socket.socket() as sock:
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused before any packet is sent
        with pytest.raises(netguard.NetworkRefused):
            socket.getaddrinfo("example.com", 443)
        assert socket.getaddrinfo("localhost", 80)
    finally:
        netguard.uninstall()
        netguard.attempts.clear()
    # In a child process, through sitecustomize.
    site = tmp_path / "site"
    site.mkdir()
    source = Path(netguard.__file__).read_text()
    (site / "sitecustomize.py").write_text(source + "\ninstall_from_env()\n")
    log = tmp_path / "guard.log"
    result = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('example.com', 443), 1)"],
        env={"PYTHONPATH": str(site), "NETGUARD_LOG": str(log), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "network guard" in result.stderr
    assert log.read_text() == "resolve 'example.com'\n"
