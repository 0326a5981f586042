"""A small agent tracked by the agentops_otel SDK, in its own process, exporting to a collector.

    python -m tests.dashboard.sdk_agent COLLECTOR_URL API_KEY

Records an LLM call (with content capture on), a tool call and an error, ends the session as a
Failure, and prints the session id.
"""

from __future__ import annotations

import sys

import agentops_otel as ao


@ao.record_tool("search_flights")
def search_flights(origin: str, destination: str) -> list[dict]:
    return [{"flight": "TP 552", "from": origin, "to": destination, "price_eur": 129}]


def main() -> None:
    url, key = sys.argv[1:]
    session = ao.init(
        api_key=key,
        endpoint=url,
        exit_handlers=False,
        instrument_llm_calls=False,
        capture_message_content=True,
        default_tags=["sdk", "travel-agent"],
    )
    ao.record(
        ao.LLMEvent(
            model="gpt-4o-mini",
            provider="openai",
            prompt="Find me a flight from Lisbon to Berlin on Friday.",
            completion="Let me search the flights for Friday.",
            prompt_tokens=420,
            completion_tokens=36,
        )
    )
    search_flights("LIS", "BER")
    try:
        raise ConnectionError("booking API refused the connection")
    except ConnectionError as exc:
        ao.record(ao.ErrorEvent(exception=exc))
    session.end_session("Failure", "booking failed")
    print(session.session_id, flush=True)


if __name__ == "__main__":
    main()
