"""The RLM agent's tools: `run_code` (a REPL cell) and `spawn_subagent` (children in parallel)."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from google.adk.tools.base_tool import BaseTool
from google.genai import types
from typing_extensions import override

if TYPE_CHECKING:
    from google.adk.tools.tool_context import ToolContext

    from rlm_adk.agent import RLMAgent
    from rlm_adk.engine.node import RLMNode


class _NodeTool(BaseTool):
    """A tool that acts on the RLM node running the current invocation."""

    def __init__(
        self, agent: RLMAgent, name: str, description: str, parameters: dict[str, Any]
    ) -> None:
        super().__init__(name=name, description=description)
        self._agent = agent
        self._parameters = parameters

    @override
    def _get_declaration(self) -> types.FunctionDeclaration:
        return types.FunctionDeclaration(
            name=self.name, description=self.description, parameters_json_schema=self._parameters
        )

    @override
    async def run_async(self, *, args: dict[str, Any], tool_context: ToolContext) -> Any:
        node = self._agent.node_for(tool_context)
        if node is None:
            return {"error": f"{self.name} is only available inside an RLM agent's run"}
        return await self._run(node, args, tool_context)

    @abstractmethod
    async def _run(self, node: RLMNode, args: dict[str, Any], tool_context: ToolContext) -> Any:
        """The tool's work for `node` (the node is known to exist)."""


class RunCodeTool(_NodeTool):
    """Runs Python in the agent's persistent, sandboxed REPL."""

    def __init__(self, agent: RLMAgent) -> None:
        super().__init__(
            agent,
            "run_code",
            "Run Python code in your persistent sandboxed REPL, where `context`, "
            "`llm_query`, `llm_batch`, `spawn_subagent(s)` and `submit` are defined. "
            "Returns printed output and errors.",
            {
                "type": "object",
                "properties": {"code": {"type": "string", "description": "Python code to run."}},
                "required": ["code"],
            },
        )

    @override
    async def _run(self, node: RLMNode, args: dict[str, Any], tool_context: ToolContext) -> Any:
        code = args.get("code")
        if not isinstance(code, str) or not code.strip():
            return {"error": "run_code needs a non-empty `code` string"}
        if node.finalizing:
            return {"error": f"limit reached ({node.stop_reason}): no more code can run"}
        result = await node.run_cell(code)
        output = result.render()
        response: dict[str, Any] = {"output": output}
        note = node.note_cell(code, output, informative=result.ok and bool(result.output.strip()))
        if note is not None:
            response["note"] = note
        if node.submitted is not None:
            # The answer is in; end the agent's loop without another model turn.
            tool_context.actions.skip_summarization = True
            response["status"] = "answer submitted"
        return response


class SpawnSubagentTool(_NodeTool):
    """Starts child RLM agents in parallel, each over a slice of the context."""

    def __init__(self, agent: RLMAgent) -> None:
        super().__init__(
            agent,
            "spawn_subagent",
            "Start child RLM agents, in parallel, one per task; each has its own REPL over "
            "the given files of your context (all of it when `paths` is omitted). Returns "
            "their answers in order.",
            {
                "type": "object",
                "properties": {
                    "tasks": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "task": {"type": "string"},
                                "paths": {"type": "array", "items": {"type": "string"}},
                            },
                            "required": ["task"],
                        },
                    }
                },
                "required": ["tasks"],
            },
        )

    @override
    async def _run(self, node: RLMNode, args: dict[str, Any], tool_context: ToolContext) -> Any:
        tasks = args.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            return {"error": "spawn_subagent needs a non-empty `tasks` list"}
        if node.finalizing:
            return {"error": f"limit reached ({node.stop_reason}): no more children can start"}
        parsed: list[Any] = []
        for item in tasks:
            if isinstance(item, str):
                parsed.append(item)
            elif isinstance(item, dict) and isinstance(item.get("task"), str):
                paths = item.get("paths")
                parsed.append({"task": item["task"], "context": list(paths) if paths else None})
            else:
                return {"error": "each task is an object with a `task` string and optional `paths`"}
        from rlm_adk.engine.host import spawn_many

        answers = await spawn_many(node, parsed)
        return {"answers": answers}
