"""Two sessions at once: each asyncio task (and the worker threads it submits to) records into its own.

python examples/sdk_concurrent.py
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentops_otel as ao

memory = InMemorySpanExporter()
pool = ThreadPoolExecutor(max_workers=2)


@ao.record_tool("search")
def search(query: str) -> str:
    return f"results for {query}"


@ao.record_action("research")
async def research(topic: str) -> str:
    # submit() carries the current session into the worker thread
    found = await asyncio.wrap_future(pool.submit(search, topic))
    await asyncio.sleep(0.01)
    return found


async def agent(topic: str) -> ao.Session:
    session = ao.start_session(tags=[topic])  # current for this task only
    for _ in range(3):
        await research(topic)
    print(f"{topic:8s} analytics: {ao.get_analytics()}")
    ao.end_session("Success")
    return session


async def main() -> None:
    ao.init(auto_start_session=False, exporter=memory)
    sessions = await asyncio.gather(agent("physics"), agent("poetry"))
    spans = memory.get_finished_spans()
    for session in sessions:
        mine = [s for s in spans if f"{s.context.trace_id:032x}" == session.session_id.replace("-", "")]
        print(f"session {session.session_id} ({session.tags[0]}): {len(mine)} spans")


if __name__ == "__main__":
    asyncio.run(main())
