"""RLMAgent is an ADK agent: inside InMemoryRunner, an App, as a sub-agent and as an AgentTool."""

from __future__ import annotations

from google.adk.agents.llm_agent import LlmAgent
from google.adk.apps.app import App
from google.adk.plugins.base_plugin import BasePlugin
from google.adk.tools.agent_tool import AgentTool

from rlm_adk import RLMAgent, open_text
from tests.run_helpers import run_once
from tests.scripted_model import ScriptedLlm, call, code, last_tool_output, prompt_text, text


def rlm_agent(root: ScriptedLlm, name: str = "rlm") -> RLMAgent:
    return RLMAgent(
        name=name,
        description="Answers questions over the corpus.",
        model=root,
        context=open_text("the secret number is 1234"),
    )


def rlm_script() -> ScriptedLlm:
    return ScriptedLlm.of(
        code("import re\nprint(re.findall(r'\\d+', context.read(context.files[0].path))[0])"),
        lambda req: text("secret=" + last_tool_output(req)),
        model="scripted-rlm",
    )


class CountingPlugin(BasePlugin):
    def __init__(self) -> None:
        super().__init__(name="counting")
        self.model_calls = 0
        self.tool_calls: list[str] = []

    async def before_model_callback(self, *, callback_context, llm_request):
        self.model_calls += 1
        return None

    async def before_tool_callback(self, *, tool, tool_args, tool_context):
        self.tool_calls.append(tool.name)
        return None


async def test_in_an_app_with_a_plugin():
    plugin = CountingPlugin()
    agent = rlm_agent(rlm_script())
    app = App(name="rlm_app", root_agent=agent, plugins=[plugin])
    result = await run_once(app=app, message="what is the secret?")
    assert result.text == "secret=1234"
    assert plugin.model_calls == 2
    assert plugin.tool_calls == ["run_code"]
    await agent.close()


async def test_as_a_sub_agent_reached_by_transfer():
    agent = rlm_agent(rlm_script())
    parent_model = ScriptedLlm.of(
        call("transfer_to_agent", {"agent_name": "rlm"}), model="scripted-parent"
    )
    parent = LlmAgent(name="concierge", model=parent_model, sub_agents=[agent])
    result = await run_once(parent, "what is the secret?")
    assert result.final.author == "rlm"
    assert result.text == "secret=1234"
    await agent.close()


async def test_as_an_agent_tool_beside_other_tools():
    def weather(city: str) -> str:
        """Returns the weather."""
        return f"sunny in {city}"

    agent = rlm_agent(rlm_script())
    parent_model = ScriptedLlm.of(
        call("rlm", {"request": "what is the secret?"}),
        lambda req: text("the tool said: " + prompt_text(req).splitlines()[-1]),
        model="scripted-parent",
    )
    plugin = CountingPlugin()
    parent = LlmAgent(name="assistant", model=parent_model, tools=[AgentTool(agent), weather])
    result = await run_once(
        app=App(name="outer", root_agent=parent, plugins=[plugin]), message="go"
    )
    assert "secret=1234" in result.text
    # The parent's plugin also saw the RLM's own model calls and its run_code tool.
    assert "run_code" in plugin.tool_calls
    assert plugin.model_calls == 4
    await agent.close()
