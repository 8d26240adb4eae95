"""How an ADK `LlmRequest` becomes a chat prompt plus an output grammar for a local model.

Pure functions, no llama.cpp: `build_plan` turns a request into chat messages and, when the
model must produce structured output, a JSON schema that `LocalLlm` compiles into a grammar;
`parse_output` turns the generated text back into `types.Part`s.

Tool turns. Small local models do not reliably emit a model-specific tool-call syntax, and
llama-cpp-python's `tool_choice="auto"` leaves such calls unparsed in the text. So on a turn with
tools the output is constrained to exactly one JSON object, a union over the request's
function declarations plus a `final_answer` pseudo-tool::

    {"name": "run_code", "arguments": {"code": "print(context.size)"}}
    {"name": "spawn_subagent", "arguments": {"task": "..."}}
    {"name": "final_answer", "arguments": {"text": "The answer is 42."}}

The grammar makes every output valid JSON naming a declared tool with schema-conforming
arguments, so each turn is either a `types.FunctionCall` or a text answer. The
`{"name", "arguments"}` shape is the one instruction-tuned models are trained on for tool calls
(Qwen, Hermes, Llama 3): with Qwen2.5-Coder-1.5B it made the model call `run_code` where a flat
`{"action": "run_code", "code": ...}` / `{"action": "answer", ...}` union made it guess answers
(3 of 3 questions each way, greedy decoding). The answer being one more "tool" helps for the
same reason. The protocol is described in the system message; earlier calls in the history are
replayed in the same JSON form and tool results as user messages (`[result of run_code]` +
JSON), which every chat template accepts.

Message order (for prompt-prefix reuse). llama.cpp keeps the KV cache of the previous prompt and
re-evaluates only from the first differing token. The prompt is therefore built from the most
stable to the least stable part: the system message (instruction, then the tool protocol, a
deterministic function of the declarations) first, then the contents in their original order.
Successive turns of one conversation extend the previous prompt, so only the new turn is
evaluated. Parts of one content keep their order: callers should put a chunk's text *before* the
question about it (as the engine's sub-call prompts do), so that several questions about the same
chunk share its evaluated prefix.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from google.genai import types

logger = logging.getLogger(__name__)

__all__ = ["ChatPlan", "ToolSpec", "build_plan", "parse_output", "to_json_schema"]

ANSWER_TOOL = "final_answer"
_MAX_REF_DEPTH = 16


@dataclass(frozen=True)
class ToolSpec:
    """One callable function: its name, description and JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ChatPlan:
    """A request ready for a chat model: messages plus the output constraint."""

    messages: list[dict[str, str]]
    kind: Literal["text", "tools", "json"]
    """`text`: free text; `tools`: one tool-call object; `json`: the response schema."""
    schema: dict[str, Any] | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    answer_tool: str | None = None
    """Name of the pseudo-tool that carries a text answer (None when a call is required)."""


def to_json_schema(schema: Any) -> dict[str, Any]:
    """A plain JSON schema from a dict, a genai `types.Schema` or a pydantic model class."""
    if schema is None:
        return {"type": "object", "properties": {}}
    if isinstance(schema, dict):
        result = schema
    elif isinstance(schema, types.Schema):
        result = schema.json_schema.model_dump(mode="json", exclude_none=True)
    elif isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        result = schema.model_json_schema()
    else:
        raise TypeError(f"unsupported schema type: {type(schema).__name__}")
    return _inline_refs(result, result.get("$defs") or result.get("definitions") or {}, 0)


def _inline_refs(node: Any, defs: dict[str, Any], depth: int) -> Any:
    """Replaces local `$ref`s by their definitions, so a schema can be nested in another."""
    if isinstance(node, list):
        return [_inline_refs(item, defs, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")):
        target = defs.get(ref.rsplit("/", 1)[-1])
        if target is None or depth >= _MAX_REF_DEPTH:
            return {}  # Unknown or too deeply recursive: accept any value there.
        return _inline_refs(target, defs, depth + 1)
    return {
        key: _inline_refs(value, defs, depth)
        for key, value in node.items()
        if key not in ("$defs", "definitions", "title")
    }


def _declarations(config: types.GenerateContentConfig) -> list[types.FunctionDeclaration]:
    found: list[types.FunctionDeclaration] = []
    for tool in config.tools or []:
        if isinstance(tool, types.Tool):
            if tool.function_declarations:
                found.extend(tool.function_declarations)
            elif tool.model_dump(exclude_none=True):
                logger.warning("local models support function tools only; ignoring %s", tool)
    return found


def _tool_specs(config: types.GenerateContentConfig) -> tuple[list[ToolSpec], bool]:
    """The callable tools and whether a text answer is allowed, per `tool_config`."""
    mode = None
    allowed: list[str] | None = None
    if config.tool_config and config.tool_config.function_calling_config:
        fcc = config.tool_config.function_calling_config
        mode = fcc.mode
        allowed = fcc.allowed_function_names
    if mode == types.FunctionCallingConfigMode.NONE:
        return [], True
    specs = []
    for decl in _declarations(config):
        if not decl.name or (allowed and decl.name not in allowed):
            continue
        if decl.parameters_json_schema is not None:
            params = to_json_schema(decl.parameters_json_schema)
        else:
            params = to_json_schema(decl.parameters)
        specs.append(ToolSpec(decl.name, (decl.description or "").strip(), params))
    must_call = mode in (
        types.FunctionCallingConfigMode.ANY,
        types.FunctionCallingConfigMode.VALIDATED,
    )
    return specs, not (must_call and specs)


def _unique(preferred: str, taken: set[str]) -> str:
    name, n = preferred, 1
    while name in taken:
        n += 1
        name = f"{preferred}_{n}"
    return name


_ANSWER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}


def call_schema(tools: list[ToolSpec], answer_tool: str | None) -> dict[str, Any]:
    """The union schema of one tool-call object (see the module docstring)."""
    branches: list[dict[str, Any]] = []
    signatures = [(tool.name, tool.parameters) for tool in tools]
    if answer_tool is not None:
        signatures.append((answer_tool, _ANSWER_PARAMETERS))
    for name, parameters in signatures:
        arguments = dict(parameters)
        arguments.setdefault("type", "object")
        properties = arguments.setdefault("properties", {})
        if "required" in arguments:  # A required name with no schema would break the grammar.
            arguments["required"] = [r for r in arguments["required"] if r in properties]
        arguments["additionalProperties"] = False
        branches.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": arguments},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    return branches[0] if len(branches) == 1 else {"oneOf": branches}


def _signature(name: str, parameters: dict[str, Any]) -> str:
    props = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])
    args = ", ".join(
        f"{arg}{'' if arg in required else '?'}: {prop.get('type') or 'any'}"
        for arg, prop in props.items()
    )
    return f"{name}({args})"


def _protocol_text(tools: list[ToolSpec], answer_tool: str | None) -> str:
    lines = [
        "# Tools",
        'Reply with exactly one JSON object: {"name": <tool name>, "arguments": {<arguments>}}.',
        "Tool results come back in the next user message.",
    ]
    for tool in tools:
        description = f": {tool.description}" if tool.description else ""
        lines.append(f"- {_signature(tool.name, tool.parameters)}{description}")
        for arg, prop in (tool.parameters.get("properties") or {}).items():
            if prop.get("description"):
                lines.append(f"    {arg}: {prop['description']}")
    if answer_tool is not None:
        lines.append(
            f"- {answer_tool}(text: string): your final answer; use it once you know the answer."
        )
    return "\n".join(lines)


def _system_text(instruction: Any) -> str:
    if instruction is None:
        return ""
    if isinstance(instruction, str):
        return instruction
    if isinstance(instruction, types.Part):
        return instruction.text or ""
    if isinstance(instruction, types.Content):
        return "\n".join(p.text for p in instruction.parts or [] if p.text)
    if isinstance(instruction, list):
        return "\n".join(_system_text(item) for item in instruction)
    return str(instruction)


def _render_value(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"result"} and isinstance(value["result"], str):
        return value["result"]
    return json.dumps(value, ensure_ascii=False, default=str)


def _part_text(part: types.Part) -> str | None:
    """The chat text standing for one part, or None to drop it."""
    if part.thought:
        return None  # Thoughts are not replayed.
    if part.text is not None:
        return part.text
    if part.function_call is not None:
        call = {"name": part.function_call.name, "arguments": part.function_call.args or {}}
        return json.dumps(call, ensure_ascii=False, default=str)
    if part.function_response is not None:
        name = part.function_response.name or "tool"
        return f"[result of {name}]\n{_render_value(part.function_response.response)}"
    if part.executable_code is not None:
        return f"```python\n{part.executable_code.code}\n```"
    if part.code_execution_result is not None:
        return f"[code output]\n{part.code_execution_result.output or ''}"
    if part.inline_data is not None or part.file_data is not None:
        mime = (part.inline_data or part.file_data).mime_type or "binary"  # type: ignore[union-attr]
        return f"[{mime} content omitted: this model reads text only]"
    return None


def _messages(system: str, contents: list[types.Content]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if system:
        messages.append({"role": "system", "content": system})
    for content in contents:
        role = "assistant" if content.role == "model" else "user"
        texts = [t for t in (_part_text(p) for p in content.parts or []) if t]
        if not texts:
            continue
        text = "\n\n".join(texts)
        # Many chat templates require user/assistant turns to alternate: merge neighbours.
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + text
        else:
            messages.append({"role": role, "content": text})
    return messages


def build_plan(contents: list[types.Content], config: types.GenerateContentConfig) -> ChatPlan:
    """Chat messages and the output constraint for one request (see the module docstring)."""
    tools, may_answer = _tool_specs(config)
    instruction = _system_text(config.system_instruction).strip()
    if tools:
        answer = _unique(ANSWER_TOOL, {tool.name for tool in tools}) if may_answer else None
        protocol = _protocol_text(tools, answer)
        system = f"{instruction}\n\n{protocol}" if instruction else protocol
        return ChatPlan(
            messages=_messages(system, contents),
            kind="tools",
            schema=call_schema(tools, answer),
            tools=tools,
            answer_tool=answer,
        )
    schema = config.response_json_schema or config.response_schema
    if schema is None and _used_tools(contents):
        # Tools were withdrawn mid-conversation (e.g. the agent's last turn after a limit): a
        # small model would go on writing tool-call JSON as text, so allow only the answer.
        protocol = _protocol_text([], ANSWER_TOOL)
        system = f"{instruction}\n\n{protocol}" if instruction else protocol
        return ChatPlan(
            messages=_messages(system, contents),
            kind="tools",
            schema=call_schema([], ANSWER_TOOL),
            tools=[],
            answer_tool=ANSWER_TOOL,
        )
    if schema is not None or config.response_mime_type == "application/json":
        json_schema = to_json_schema(schema) if schema is not None else {"type": "object"}
        return ChatPlan(_messages(instruction, contents), "json", json_schema)
    return ChatPlan(_messages(instruction, contents), "text")


def _used_tools(contents: list[types.Content]) -> bool:
    return any(
        part.function_call is not None or part.function_response is not None
        for content in contents
        for part in content.parts or []
    )


def parse_output(plan: ChatPlan, text: str) -> list[types.Part]:
    """The parts of a model turn from the generated text.

    On a tool turn a valid call becomes a `FunctionCall` part (a text part for the answer
    pseudo-tool). Output that does not parse (cut off by the token limit) is returned as text.
    """
    if plan.kind != "tools":
        return [types.Part(text=text)]
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return [types.Part(text=text)]
    if not isinstance(obj, dict):
        return [types.Part(text=text)]
    name, arguments = obj.get("name"), obj.get("arguments")
    if not isinstance(arguments, dict):
        return [types.Part(text=text)]
    if name is not None and name == plan.answer_tool:
        answer = arguments.get("text")
        return [types.Part(text=answer if isinstance(answer, str) else json.dumps(answer))]
    if name in {tool.name for tool in plan.tools}:
        return [types.Part(function_call=types.FunctionCall(name=name, args=arguments))]
    return [types.Part(text=text)]
