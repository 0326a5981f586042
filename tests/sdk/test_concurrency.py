"""Two concurrent sessions: events go to the session of the current context (threads and asyncio)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import agentops_otel as ao
from agentops_otel import semconv as sc


@ao.record_action("step")
async def step(label: str) -> str:
    await asyncio.sleep(0.001)  # interleave with the other session
    return label


@ao.record_tool("work")
def work(label: str) -> str:
    return label


def spans_by_trace(spans):
    grouped: dict[int, list] = {}
    for span in spans:
        grouped.setdefault(span.context.trace_id, []).append(span)
    return grouped


async def test_two_sessions_in_two_asyncio_tasks(sdk):
    sdk.init(auto_start_session=False)
    barrier = asyncio.Barrier(2)

    async def agent(label: str, steps: int) -> ao.Session:
        session = ao.start_session(tags=[label])
        await barrier.wait()  # both running from here on
        for _ in range(steps):
            await step(label)
            ao.record(ao.ActionEvent(action_type=label))
            # a task started inside the session inherits it
            await asyncio.create_task(step(label))
        assert ao.get_analytics()["Actions"] == steps * 3
        ao.end_session("Success")
        return session

    first, second = await asyncio.gather(agent("a", 5), agent("b", 7))
    grouped = spans_by_trace(sdk.spans())
    for session, label, steps in ((first, "a", 5), (second, "b", 7)):
        spans = grouped[uuid.UUID(session.session_id).int]
        events = [s for s in spans if s.parent is not None]
        assert len(events) == steps * 3
        assert [s.attributes[sc.EVENT_RETURNS] for s in events if s.name == "step"] == [label] * steps * 2
        assert [s.name for s in events if s.name != "step"] == [label] * steps


def test_two_sessions_in_two_threads_and_an_executor(sdk):
    sdk.init(auto_start_session=False)
    barrier = threading.Barrier(2)
    sessions: dict[str, ao.Session] = {}
    errors: list[BaseException] = []

    def agent(label: str) -> None:
        try:
            sessions[label] = ao.start_session(tags=[label])
            barrier.wait(timeout=10)
            with ThreadPoolExecutor(max_workers=3) as pool:
                # plain submit: the worker thread runs in the submitter's context
                results = list(pool.map(work, [label] * 6))
                results.append(pool.submit(work, label).result())
                pool.submit(ao.record, ao.ActionEvent(action_type=label)).result()
            assert results == [label] * 7
            barrier.wait(timeout=10)  # the other session is still running here
            ao.end_session("Success")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=agent, args=(label,)) for label in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    grouped = spans_by_trace(sdk.spans())
    for label, session in sessions.items():
        events = [s for s in grouped[uuid.UUID(session.session_id).int] if s.parent is not None]
        assert len(events) == 8
        assert {s.attributes.get(sc.EVENT_RETURNS) for s in events if s.name == "execute_tool work"} == {label}
        assert [s.attributes[sc.ACTION_TYPE] for s in events if s.name == label] == [label]
        assert session.get_analytics()["Tool calls"] == 7


def test_explicit_session_methods_from_any_thread(sdk):
    sdk.init(auto_start_session=False)
    from agentops_otel.client import get_client

    a = get_client().start_session(attach=False)
    b = get_client().start_session(attach=False)

    def record_many(session: ao.Session, n: int) -> None:
        for _ in range(n):
            session.record(ao.ToolEvent(name="t"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(record_many, a, 50), pool.submit(record_many, b, 30)]:
            future.result()
    a.end_session("Success")
    b.end_session("Success")
    assert a.get_analytics()["Tool calls"] == 50 and b.get_analytics()["Tool calls"] == 30
