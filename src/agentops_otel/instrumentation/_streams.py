"""Transparent proxies around the stream objects the client libraries return.

The application keeps the type it expects (``isinstance(proxy, Stream)`` holds, every attribute is
forwarded); the proxy tells its :class:`LLMCall` about each event and ends the span exactly once: when
the stream is read to the end, fails, is closed (directly, through ``with``, or by a helper closing
the HTTP response), or is garbage-collected after an early ``break``. No OpenTelemetry context is
attached while the application holds the stream.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import wrapt

from agentops_otel.instrumentation._call import LLMCall


def _end_abandoned(end: Callable[..., None]) -> None:
    """``end(abandoned=True)`` from ``__del__``: never raise, even while the interpreter shuts down."""
    try:
        end(abandoned=True)
    except Exception:
        pass


class ResponseProxy(wrapt.ObjectProxy):
    """The stream's HTTP response; stream helpers close this rather than the stream itself."""

    def __init__(self, response: Any, call: LLMCall) -> None:
        super().__init__(response)
        self._self_call = call

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.finish_stream()

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_call.finish_stream()


class _StreamProxyBase(wrapt.ObjectProxy):
    def __init__(self, stream: Any, call: LLMCall) -> None:
        super().__init__(stream)
        self._self_call = call
        self._self_response: ResponseProxy | None = None

    @property
    def response(self) -> Any:
        if self._self_response is None:
            self._self_response = ResponseProxy(self.__wrapped__.response, self._self_call)
        return self._self_response

    def __del__(self) -> None:
        _end_abandoned(self._self_call.finish_stream)


class SyncStreamProxy(_StreamProxyBase):
    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            event = self.__wrapped__.__next__()
        except StopIteration:
            self._self_call.finish_stream()
            raise
        except BaseException as exc:
            self._self_call.finish_stream(exc)
            raise
        self._self_call.add_event(event)
        return event

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.finish_stream()

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        # An exception raised in the with-block is the application's, not the stream's.
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_call.finish_stream()


class AsyncStreamProxy(_StreamProxyBase):
    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            event = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_call.finish_stream()
            raise
        except BaseException as exc:
            self._self_call.finish_stream(exc)
            raise
        self._self_call.add_event(event)
        return event

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_call.finish_stream()

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_call.finish_stream()


class AsyncGeneratorProxy(AsyncStreamProxy):
    """An async generator returned as a stream (google-genai): closed by ``aclose()``."""

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_call.finish_stream()


class IterableStreamProxy(_StreamProxyBase):
    """A stream whose ``__iter__`` gives a new generator (botocore's ``EventStream``): iterated once,
    through one generator kept here."""

    def __init__(self, stream: Any, call: LLMCall) -> None:
        super().__init__(stream, call)
        self._self_events: Any = None

    def __iter__(self) -> IterableStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            if self._self_events is None:
                self._self_events = iter(self.__wrapped__)
            event = next(self._self_events)
        except StopIteration:
            self._self_call.finish_stream()
            raise
        except BaseException as exc:
            self._self_call.finish_stream(exc)
            raise
        self._self_call.add_event(event)
        return event

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.finish_stream()


class StreamManagerProxy(wrapt.ObjectProxy):
    """A context manager that sends a streamed request when entered and gives a response whose ``data``
    are the events (the raw clients of Fern-generated libraries: ``cohere``).

    The events are traced as they are read; leaving the ``with`` block ends the span. The library's own
    methods read such a stream for the application: when the application stops reading theirs (closes
    it, or drops it after an early ``break``), the span ends when the last event arrived.
    """

    def __init__(self, manager: Any, call: LLMCall) -> None:
        super().__init__(manager)
        self._self_call = call

    def __enter__(self) -> Any:
        try:
            response = self.__wrapped__.__enter__()
        except BaseException as exc:
            self._self_call.finish_stream(exc)
            raise
        return _DataProxy(response, _LibraryReadStream(response.data, self._self_call))

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, traceback)
        finally:
            self._self_call.finish_stream(abandoned=True)

    async def __aenter__(self) -> Any:
        try:
            response = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            self._self_call.finish_stream(exc)
            raise
        return _DataProxy(response, AsyncStreamProxy(response.data, self._self_call))

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, traceback)
        finally:
            self._self_call.finish_stream(abandoned=True)

    def __del__(self) -> None:
        _end_abandoned(self._self_call.finish_stream)


class _LibraryReadStream(SyncStreamProxy):
    """Events read by the library for the application: closed when the application stops reading."""

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.finish_stream(abandoned=True)


class _DataProxy(wrapt.ObjectProxy):
    """The entered response, its ``data`` replaced by the traced events."""

    def __init__(self, response: Any, data: Any) -> None:
        super().__init__(response)
        self._self_data = data

    @property
    def data(self) -> Any:
        return self._self_data


class RawResponseProxy(wrapt.ObjectProxy):
    """A ``with_raw_response`` / ``with_streaming_response`` result whose body the application reads.

    ``parse()`` gives the parsed body (recorded on the span) or the stream (wrapped, so it is traced
    like any other); ``close()``, the context manager's exit, or garbage collection end the span, with
    the body if the application read it another way (``.json()``, ``.read()``, ``.text()``).
    Once the stream is handed out, garbage collection of this response leaves the span to the stream:
    ``with_raw_response.create(stream=True).parse()`` drops the response at once.
    """

    def __init__(self, response: Any, call: LLMCall, wrap_stream: Callable[[Any, LLMCall], Any]) -> None:
        super().__init__(response)
        self._self_call = call
        self._self_wrap_stream = wrap_stream
        self._self_parsed = False  # parse() handed out the body (recorded) or the stream (its proxy ends the span)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if inspect.isawaitable(parsed):  # the async client's responses parse asynchronously
            return self._self_parsed_later(parsed)
        return self._self_take(parsed)

    async def _self_parsed_later(self, parsed: Awaitable[Any]) -> Any:
        return self._self_take(await parsed)

    def _self_take(self, parsed: Any) -> Any:
        self._self_parsed = True
        call = self._self_call
        if call.recorder is not None:
            return self._self_wrap_stream(parsed, call)
        call.complete(parsed)
        return parsed

    def close(self) -> Any:
        result = self.__wrapped__.close()
        if inspect.isawaitable(result):
            return self._self_closed_later(result)
        self._self_end()
        return result

    async def _self_closed_later(self, result: Awaitable[Any]) -> Any:
        try:
            return await result
        finally:
            self._self_end()

    def _self_end(self, *, abandoned: bool = False) -> None:
        call = self._self_call
        if not self._self_parsed and call.recorder is None:
            body = _body_if_read(self.__wrapped__.http_response)
            if body is not None:
                call.complete(body)
                return
        call.finish_stream(abandoned=abandoned)

    def __del__(self) -> None:
        if not self._self_parsed:  # once parse() has handed out the stream, the stream's proxy ends the span
            _end_abandoned(self._self_end)


def _body_if_read(http_response: Any) -> Any:
    """The JSON body when the application has read it, else ``None``; never reads from the network."""
    try:
        return http_response.json()  # an unread body raises ResponseNotRead
    except Exception:
        return None
