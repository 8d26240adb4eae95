"""`rlm-adk`: ask one question over a corpus from the shell, with live progress.

Exit codes: 0 answered; 3 a limit was reached (the answer is partial); 2 bad input (arguments,
configuration, context); 4 the model failed; 130 interrupted (Ctrl-C cancels the whole tree).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_LIMIT = 3
EXIT_MODEL = 4
EXIT_INTERRUPTED = 130


class BadInput(Exception):
    """The user's arguments, configuration or corpus cannot be used."""


@dataclass
class Progress:
    """Counters the live view shows, fed by the engine's progress events."""

    started: float = field(default_factory=time.monotonic)
    depth: int = 0
    in_flight: int = 0
    done: int = 0
    agents: int = 0
    cells: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    limit: str | None = None

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        depth = int(data.get("depth", 0) or 0)
        self.depth = max(self.depth, depth)
        if kind == "subcall_start":
            self.in_flight += 1
        elif kind == "subcall_end":
            self.in_flight -= 1
            self.done += 1
            self.input_tokens += int(data.get("input_tokens", 0))
            self.output_tokens += int(data.get("output_tokens", 0))
        elif kind == "model_call":
            self.input_tokens += int(data.get("input_tokens", 0))
            self.output_tokens += int(data.get("output_tokens", 0))
        elif kind == "agent_start":
            self.agents += 1
        elif kind == "cell":
            self.cells += 1
        elif kind == "limit":
            self.limit = str(data.get("reason"))

    def line(self) -> str:
        return (
            f"depth {self.depth} | agents {self.agents} | cells {self.cells} | "
            f"sub-calls {self.in_flight} in flight, {self.done} done | "
            f"tokens {self.input_tokens:,} in / {self.output_tokens:,} out | "
            f"{time.monotonic() - self.started:6.1f} s"
            + (f" | limit: {self.limit}" if self.limit else "")
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlm-adk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question over a corpus")
    ask.add_argument("question")
    ask.add_argument(
        "--context",
        "-c",
        action="append",
        default=[],
        help="a local path (file, directory, glob) or gs://bucket/prefix; repeatable",
    )
    ask.add_argument("--model", help="root model (default: RLM_MODEL or the built-in default)")
    ask.add_argument("--sub-model", help="model for sub-calls (default: RLM_SUB_MODEL)")
    ask.add_argument("--max-depth", type=int)
    ask.add_argument("--max-llm-calls", type=int)
    ask.add_argument("--max-cost-usd", type=float)
    ask.add_argument("--max-wall-seconds", type=float)
    ask.add_argument("--sandbox", choices=["monty", "subprocess"])
    ask.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ask.add_argument(
        "--trace",
        help="export spans: console, otlp (OTEL_EXPORTER_OTLP_* variables), gcp, jsonl:PATH",
    )
    ask.add_argument("--trajectory-dir", help="write the request's trajectory (JSONL) here")
    ask.add_argument("--quiet", "-q", action="store_true", help="no live progress")
    sub.add_parser("bench", help="run the benchmarks (rlm-adk bench --help)", add_help=False)
    return parser


def _config(args: argparse.Namespace) -> Any:
    from rlm_adk.config import ConfigError, RLMConfig

    overrides: dict[str, Any] = {}
    for name in ("max_depth", "max_llm_calls", "max_cost_usd", "max_wall_seconds", "sandbox"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.trajectory_dir:
        overrides["trajectory_dir"] = args.trajectory_dir
    if args.sub_model:
        overrides["sub_model"] = args.sub_model
    if args.model:
        overrides["model"] = args.model
    try:
        return RLMConfig.from_env(**overrides)
    except ConfigError as exc:
        raise BadInput(str(exc)) from exc


def _setup_trace(spec: str | None) -> str | None:
    if not spec:
        return None
    from rlm_adk import telemetry

    setup = getattr(telemetry, "setup_tracing", None)
    if setup is None:
        raise BadInput("tracing exporters are not available in this build")
    kind, _, path = spec.partition(":")
    try:
        return str(setup(kind, path or None) or spec)
    except (ValueError, ImportError) as exc:
        raise BadInput(f"--trace {spec}: {exc}") from exc


async def _ask(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    from google.adk.runners import InMemoryRunner
    from google.genai import types

    from rlm_adk.agent import RLMAgent, progress_listeners
    from rlm_adk.context import ContextError, open_context

    config = _config(args)
    uris = args.context or config.context
    if not uris:
        raise BadInput("no corpus: pass --context PATH|gs://bucket/prefix or set RLM_CONTEXT")
    try:
        handle = open_context(*uris)
        files = handle.files
    except ContextError as exc:
        raise BadInput(str(exc)) from exc
    if not files:
        raise BadInput(f"the corpus {', '.join(uris)} holds no files")
    try:
        agent = RLMAgent(
            name="rlm",
            model=config.model or "",
            sub_model=config.sub_model,
            config=config,
            context=handle,
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    runner = InMemoryRunner(agent=agent, app_name="rlm_cli")
    session = await runner.session_service.create_session(app_name="rlm_cli", user_id="cli")
    token = progress_listeners.set((progress.on_event,))
    final_text = ""
    metadata: dict[str, Any] = {}
    errors: list[str] = []
    try:
        async for event in runner.run_async(
            user_id="cli",
            session_id=session.id,
            new_message=types.Content(
                role="user", parts=[types.Part.from_text(text=args.question)]
            ),
        ):
            if event.error_message:
                errors.append(f"{event.error_code}: {event.error_message}")
            if event.author == agent.name and event.is_final_response() and event.content:
                final_text = "".join(
                    p.text or "" for p in event.content.parts or [] if not p.thought
                )
                metadata = (event.custom_metadata or {}).get("rlm", {})
    finally:
        progress_listeners.reset(token)
        await agent.close()
        await runner.close()
    return {"answer": final_text, "rlm": metadata, "errors": errors, "files": len(files)}


def _run_with_progress(args: argparse.Namespace) -> dict[str, Any]:
    progress = Progress()
    live = not args.quiet and sys.stderr.isatty()

    async def main() -> dict[str, Any]:
        if not live:
            return await _ask(args, progress)
        from rich.console import Console
        from rich.live import Live

        console = Console(stderr=True)
        with Live(progress.line(), console=console, refresh_per_second=8, transient=True) as view:
            task = asyncio.create_task(_ask(args, progress))
            while not task.done():
                view.update(progress.line())
                await asyncio.sleep(0.125)
            return task.result()

    return asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from rlm_adk.bench import cli_main

        return cli_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        trace_target = _setup_trace(args.trace)
        result = _run_with_progress(args)
    except BadInput as exc:
        print(f"rlm-adk: bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("rlm-adk: interrupted; the whole tree was cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a model or service failure the engine could not absorb
        print(f"rlm-adk: model failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_MODEL
    rlm = result["rlm"]
    limit = rlm.get("limit_reached")
    if (not result["answer"] and result["errors"]) or limit == "model_error":
        code = EXIT_MODEL  # the model failed past its retries (the answer is partial)
    else:
        code = EXIT_LIMIT if limit else EXIT_OK
    if args.json:
        out = {
            "answer": result["answer"],
            "exit_code": code,
            "limit_reached": limit,
            "usage": rlm.get("usage", {}),
            "wall_seconds": rlm.get("wall_seconds"),
            "nodes": len(rlm.get("nodes", [])),
            "errors": result["errors"],
            "trace": trace_target,
            "trajectory_dir": args.trajectory_dir,
        }
        print(json.dumps(out, ensure_ascii=False))
        return code
    print(result["answer"])
    usage = rlm.get("usage", {})
    summary = (
        f"[rlm-adk] {usage.get('calls', 0)} model calls, {usage.get('input_tokens', 0):,} in / "
        f"{usage.get('output_tokens', 0):,} out tokens, ${usage.get('cost_usd', 0):.4f}, "
        f"{rlm.get('wall_seconds', 0)} s, {len(rlm.get('nodes', []))} nodes"
    )
    if limit == "model_error":
        summary += "; stopped by a model failure (partial answer)"
    elif limit:
        summary += f"; stopped by limit {limit} (partial answer)"
    for error in result["errors"]:
        summary += f"\n[rlm-adk] error: {error}"
    if trace_target:
        summary += f"\n[rlm-adk] trace: {trace_target}"
    if args.trajectory_dir:
        summary += f"\n[rlm-adk] trajectory: {args.trajectory_dir}"
    print(summary, file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
