"""`Budget`: one per request, shared by the whole recursion tree, enforced by the engine.

Every model call at every depth is admitted here before it starts and settled here when it ends,
so no document and no model output can make the tree exceed its limits. Admission reserves the
call and an estimate of its tokens and cost; settlement replaces the estimate with the usage the
model reported, so accounting is exact and concurrent calls cannot overshoot together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from rlm_adk.config import RLMConfig


class LimitReached(Exception):
    """A tree-wide limit stops new work; `reason` names it (e.g. `max_llm_calls`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"limit reached: {reason} ({detail})")
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Usage:
    """What calls consumed. Additive; one per node and one for the whole tree."""

    calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    bytes_read: int = 0
    """Corpus bytes delivered to the tree (reads, chunk texts)."""
    bytes_scanned: int = 0
    """Corpus bytes searched by `grep` (the files in scope)."""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, float | int]:
        # Flat fields: read directly (`asdict` deep-copies, and a summary has 1,000s of nodes).
        data: dict[str, float | int] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["tokens"] = self.tokens
        data["cost_usd"] = round(self.cost_usd, 8)
        return data


@dataclass(slots=True)
class NodeInfo:
    """A node of the recursion tree: the root, a child agent or a plain sub-call."""

    node_id: str
    parent_id: str | None
    depth: int
    kind: str
    """`root`, `agent` (child RLM) or `call` (plain model call)."""
    model: str = ""
    task: str = ""
    usage: Usage = field(default_factory=Usage)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def wall_seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


@dataclass(slots=True)
class Lease:
    """An admitted call: what it reserved until it is settled."""

    node_id: str
    model: str
    tokens: int
    cost: float
    final: bool = False
    settled: bool = False


CostFn = Callable[[str, int, int], float]


class Budget:
    """Tree-wide limits and usage for one request. Thread-safe."""

    def __init__(
        self,
        config: RLMConfig,
        *,
        cost_fn: CostFn | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._cost_fn = cost_fn or (lambda _model, _i, _o: 0.0)
        self._clock = clock
        self._lock = threading.Lock()
        self.started = clock()
        self.deadline = self.started + config.max_wall_seconds if config.max_wall_seconds else None
        self.usage = Usage()
        self.nodes: dict[str, NodeInfo] = {}
        self.limit_reason: str | None = None
        """The first limit that stopped work, if any."""
        self._reserved_calls = 0
        self._reserved_tokens = 0
        self._reserved_cost = 0.0
        self._final_reserve_used = False
        self.refusals = 0
        """Admissions refused by a limit so far (a cell that keeps asking is stopped: see `Repl`)."""

    # -- tree ------------------------------------------------------------------------------------

    def register(self, node: NodeInfo) -> NodeInfo:
        with self._lock:
            self.nodes[node.node_id] = node
        return node

    def node(self, node_id: str) -> NodeInfo | None:
        return self.nodes.get(node_id)

    def children_of(self, node_id: str) -> list[NodeInfo]:
        return [n for n in self.nodes.values() if n.parent_id == node_id]

    # -- limits ----------------------------------------------------------------------------------

    def remaining_seconds(self) -> float | None:
        return None if self.deadline is None else self.deadline - self._clock()

    def _stop(self, reason: str, detail: str) -> LimitReached:
        self.refusals += 1
        if self.limit_reason is None:
            self.limit_reason = reason
        return LimitReached(reason, detail)

    def check_deadline(self) -> None:
        """Raises `LimitReached` once the wall-clock deadline has passed."""
        if self.deadline is not None and self._clock() >= self.deadline:
            with self._lock:
                raise self._stop(
                    "max_wall_seconds", f"{self.config.max_wall_seconds:g} s deadline passed"
                )

    def check_open(self) -> None:
        """Raises `LimitReached` once a limit has stopped the tree: no new work starts then."""
        self.check_deadline()
        if self.limit_reason is not None:
            with self._lock:
                raise self._stop(self.limit_reason, "no new work starts after a limit is reached")

    def admit(
        self, node_id: str, model: str, estimated_input_tokens: int, *, final: bool = False
    ) -> Lease:
        """Admits one model call or raises `LimitReached`.

        `final=True` is the root's last answer after a limit stopped the tree: it may use the one
        call held back for it, but never more, and it stays within the tokens and cost limits.
        """
        self.check_deadline()
        cfg = self.config
        est_tokens = max(0, estimated_input_tokens) + cfg.estimated_output_tokens
        est_cost = self._cost_fn(model, max(0, estimated_input_tokens), cfg.estimated_output_tokens)
        with self._lock:
            in_use = self.usage.calls + self._reserved_calls
            if final:
                if self._final_reserve_used or in_use >= cfg.max_llm_calls:
                    raise self._stop("max_llm_calls", f"{cfg.max_llm_calls} calls used")
            elif in_use >= cfg.max_llm_calls - 1:
                # One call stays held back for the root's final answer.
                raise self._stop("max_llm_calls", f"{cfg.max_llm_calls} calls used")
            # Tokens and cost bound every call, the root's final answer included.
            if cfg.max_tokens is not None and (
                self.usage.tokens + self._reserved_tokens + est_tokens > cfg.max_tokens
            ):
                raise self._stop(
                    "max_tokens",
                    f"{self.usage.tokens:,} of {cfg.max_tokens:,} tokens used, "
                    f"{self._reserved_tokens:,} reserved by calls in flight",
                )
            if cfg.max_cost_usd is not None and (
                self.usage.cost_usd + self._reserved_cost + est_cost > cfg.max_cost_usd
            ):
                raise self._stop(
                    "max_cost_usd",
                    f"${self.usage.cost_usd:.4f} of ${cfg.max_cost_usd:.4f} spent",
                )
            if final:
                self._final_reserve_used = True
            self._reserved_calls += 1
            self._reserved_tokens += est_tokens
            self._reserved_cost += est_cost
            return Lease(node_id, model, est_tokens, est_cost, final=final)

    def settle(
        self,
        lease: Lease,
        input_tokens: int = 0,
        output_tokens: int = 0,
        *,
        failed: bool = False,
        retries: int = 0,
    ) -> float:
        """Records a finished call (successful or not) exactly once; returns its cost."""
        cost = self._cost_fn(lease.model, input_tokens, output_tokens)
        with self._lock:
            if lease.settled:
                return 0.0
            lease.settled = True
            self._reserved_calls -= 1
            self._reserved_tokens -= lease.tokens
            self._reserved_cost -= lease.cost
            targets = [self.usage]
            node = self.nodes.get(lease.node_id)
            if node is not None:
                targets.append(node.usage)
            for usage in targets:
                usage.calls += 1
                usage.failed_calls += int(failed)
                usage.retries += retries
                usage.input_tokens += input_tokens
                usage.output_tokens += output_tokens
                usage.cost_usd += cost
        return cost

    def add_bytes_read(self, node_id: str, count: int, scanned: int = 0) -> None:
        """Records corpus bytes read (and scanned by grep) for the request and the node."""
        with self._lock:
            node = self.nodes.get(node_id)
            for usage in (self.usage, node.usage) if node is not None else (self.usage,):
                usage.bytes_read += count
                usage.bytes_scanned += scanned

    @property
    def exhausted_reason(self) -> str | None:
        """The limit that has stopped the tree, if any (checks the deadline too)."""
        if (
            self.limit_reason is None
            and self.deadline is not None
            and self._clock() >= self.deadline
        ):
            self.limit_reason = "max_wall_seconds"
        return self.limit_reason

    def summary(self) -> dict[str, object]:
        """Usage of the request and of each node, for events, logs and the CLI."""
        return {
            "usage": self.usage.to_dict(),
            "wall_seconds": round(self._clock() - self.started, 3),
            "limit_reached": self.limit_reason,
            "nodes": [
                {
                    "node_id": n.node_id,
                    "parent_id": n.parent_id,
                    "depth": n.depth,
                    "kind": n.kind,
                    "model": n.model,
                    "wall_seconds": round(n.wall_seconds, 3),
                    **n.usage.to_dict(),
                }
                for n in self.nodes.values()
            ],
        }
