"""Instrumentation of AWS Bedrock Runtime through ``boto3``/``botocore``: ``converse``,
``converse_stream``, ``invoke_model`` and ``invoke_model_with_response_stream``, each as one LLM span
(``aws.bedrock``).

Only Bedrock Runtime clients are touched: botocore builds a class for each client it creates, and the
four methods are wrapped on the classes of ``bedrock-runtime`` clients, those made once instrumented
and those alive when ``instrument()`` runs (botocore's client classes are the subclasses of its
``BaseClient``). botocore itself is never imported here.

Tokens are what Bedrock bills: Converse's ``usage``; for InvokeModel its ``x-amzn-bedrock-*-token-count``
headers, and for InvokeModelWithResponseStream the ``amazon-bedrock-invocationMetrics`` of the last
chunk, not the counts inside the model's own events. Bedrock's input count leaves out the cache
reads and writes: the span's ``gen_ai.usage.input_tokens`` adds them, as the GenAI conventions define it.
InvokeModel's body is read when the response arrives (to record it) and handed back as an unread
``StreamingBody`` holding the same bytes.
"""

from __future__ import annotations

import importlib
import io
import json
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import wrapt

from agentops_otel import semconv as sc
from agentops_otel.instrumentation import _content as content
from agentops_otel.instrumentation._call import Attributes, Endpoint, LLMCall, StreamRecorder, put, usage_attributes
from agentops_otel.instrumentation._library import LibraryInstrumentor, in_traced_call, run_traced
from agentops_otel.instrumentation._patching import Patch, report_bug, wrap_method
from agentops_otel.instrumentation._sessions import routing_session
from agentops_otel.instrumentation._streams import IterableStreamProxy

SERVICE = "bedrock-runtime"
# Cross-region inference profile ids lead with a geography: us.anthropic.claude-..., global.amazon.nova-...
_GEOGRAPHIES = {"us", "eu", "apac", "global", "us-gov", "jp", "au", "ca"}
_BILLED_HEADERS = {
    "input": "x-amzn-bedrock-input-token-count",
    "output": "x-amzn-bedrock-output-token-count",
    "cache_read": "x-amzn-bedrock-cache-read-input-token-count",
    "cache_write": "x-amzn-bedrock-cache-write-input-token-count",
}


def family(model_id: Any) -> str:
    """The model family of a Bedrock model id, inference profile id or ARN: ``anthropic``,
    ``amazon.titan``, ``amazon.nova``, ``meta``, ... (the request and response bodies of InvokeModel
    are the family's own)."""
    if not isinstance(model_id, str):
        return ""
    name = unquote(model_id).rsplit("/", 1)[-1]
    vendor, _, rest = name.partition(".")
    if vendor in _GEOGRAPHIES:
        vendor, _, rest = rest.partition(".")
    if vendor == "amazon":
        return "amazon." + rest.split("-", 1)[0]
    return vendor


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _usage(attrs: Attributes, inputs: Any, outputs: Any, cache_read: Any = None, cache_write: Any = None) -> None:
    """Bedrock's counts: ``inputs`` without the cache reads and writes, which the span's input adds."""
    inputs, cache_read, cache_write = _int(inputs), _int(cache_read), _int(cache_write)
    usage_attributes(
        attrs,
        input_tokens=None if inputs is None else inputs + (cache_read or 0) + (cache_write or 0),
        output_tokens=_int(outputs),
        cache_read=cache_read,
        cache_creation=cache_write,
    )


def _finish_reason(attrs: Attributes, reason: Any) -> None:
    if isinstance(reason, str) and reason:
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]


# --- message content (capture on only) ---------------------------------------------------------------
def _converse_parts(blocks: Any) -> list[content.Part]:
    """Converse content blocks (and Nova's, which are the same)."""
    parts: list[content.Part] = []
    for block in blocks or ():
        if not isinstance(block, Mapping):
            continue
        if "text" in block:
            parts.append(content.text(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            parts.append(content.tool_call(use.get("toolUseId"), use.get("name"), use.get("input")))
        elif "toolResult" in block:
            result = block["toolResult"]
            parts.append(content.tool_response(result.get("toolUseId"), result.get("content")))
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"].get("reasoningText") or {}
            parts.append(content.reasoning(reasoning.get("text")))
        else:
            parts.append({"type": next(iter(block), "unknown")})
    return parts


def _anthropic_parts(blocks: Any) -> list[content.Part]:
    if isinstance(blocks, str):
        return [content.text(blocks)]
    parts: list[content.Part] = []
    for block in blocks or ():
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            parts.append(content.text(block.get("text")))
        elif kind == "tool_use":
            parts.append(content.tool_call(block.get("id"), block.get("name"), block.get("input")))
        elif kind == "tool_result":
            parts.append(content.tool_response(block.get("tool_use_id"), block.get("content")))
        elif kind == "thinking":
            parts.append(content.reasoning(block.get("thinking")))
        else:
            parts.append({"type": kind or "unknown"})
    return parts


def _messages(messages: Any, parts_of: Callable[[Any], list[content.Part]]) -> list[dict[str, Any]]:
    return [
        content.message(m.get("role"), parts_of(m.get("content"))) for m in messages or () if isinstance(m, Mapping)
    ]


# --- Converse -----------------------------------------------------------------------------------------
class Converse(Endpoint):
    operation = sc.OP_CHAT

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, body.get("modelId"))
        config = body.get("inferenceConfig")
        if isinstance(config, Mapping):
            put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, config.get("maxTokens"))
            put(attrs, sc.GEN_AI_REQUEST_TEMPERATURE, config.get("temperature"))
            put(attrs, sc.GEN_AI_REQUEST_TOP_P, config.get("topP"))
            put(attrs, sc.GEN_AI_REQUEST_STOP_SEQUENCES, config.get("stopSequences"))
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(_messages(body.get("messages"), _converse_parts))
            if body.get("system"):
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(_converse_parts(body["system"]))
            tools = (body.get("toolConfig") or {}).get("tools")
            if tools:
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(tools)
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        attrs: Attributes = {}
        reason = response.get("stopReason")
        _finish_reason(attrs, reason)
        usage = response.get("usage") or {}
        _usage(
            attrs,
            usage.get("inputTokens"),
            usage.get("outputTokens"),
            usage.get("cacheReadInputTokens"),
            usage.get("cacheWriteInputTokens"),
        )
        if capture:
            message = (response.get("output") or {}).get("message") or {}
            output = content.message("assistant", _converse_parts(message.get("content")), reason)
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([output])
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _ConverseStream(capture)


class _ConverseStream(StreamRecorder):
    """``messageStop`` gives the stop reason, ``metadata`` the usage; blocks are gathered by index."""

    __slots__ = ("blocks", "capture", "stop_reason", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.stop_reason: str | None = None
        self.usage: Mapping[str, Any] = {}
        self.blocks: dict[int, list[Any]] = {}  # index -> [tool use start or None, pieces, kind]

    def add(self, event: Any) -> None:
        if "metadata" in event:
            self.usage = event["metadata"].get("usage") or self.usage
        elif "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason")
        elif self.capture:
            if "contentBlockStart" in event:
                start = event["contentBlockStart"]
                self.blocks[start.get("contentBlockIndex", 0)] = [start.get("start", {}).get("toolUse"), [], "tool"]
            elif "contentBlockDelta" in event:
                delta = event["contentBlockDelta"]
                block = self.blocks.setdefault(delta.get("contentBlockIndex", 0), [None, [], "text"])
                piece = delta.get("delta") or {}
                if "text" in piece:
                    block[1].append(piece["text"])
                elif "toolUse" in piece:
                    block[1].append(piece["toolUse"].get("input") or "")
                elif "reasoningContent" in piece:
                    block[2] = "reasoning"
                    block[1].append(piece["reasoningContent"].get("text") or "")

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        _finish_reason(attrs, self.stop_reason)
        usage = self.usage
        _usage(
            attrs,
            usage.get("inputTokens"),
            usage.get("outputTokens"),
            usage.get("cacheReadInputTokens"),
            usage.get("cacheWriteInputTokens"),
        )
        if self.capture:
            parts: list[content.Part] = []
            for index in sorted(self.blocks):
                tool, pieces, kind = self.blocks[index]
                streamed = "".join(pieces)
                if tool is not None:
                    parts.append(content.tool_call(tool.get("toolUseId"), tool.get("name"), streamed or {}))
                else:
                    parts.append(content.reasoning(streamed) if kind == "reasoning" else content.text(streamed))
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([content.message("assistant", parts, self.stop_reason)])
        return attrs


# --- InvokeModel --------------------------------------------------------------------------------------
# Request parameters per family: (path of keys in the body, attribute)
_PARAMS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "anthropic": (
        (("max_tokens",), sc.GEN_AI_REQUEST_MAX_TOKENS),
        (("temperature",), sc.GEN_AI_REQUEST_TEMPERATURE),
        (("top_p",), sc.GEN_AI_REQUEST_TOP_P),
        (("top_k",), sc.GEN_AI_REQUEST_TOP_K),
        (("stop_sequences",), sc.GEN_AI_REQUEST_STOP_SEQUENCES),
    ),
    "amazon.titan": (
        (("textGenerationConfig", "maxTokenCount"), sc.GEN_AI_REQUEST_MAX_TOKENS),
        (("textGenerationConfig", "temperature"), sc.GEN_AI_REQUEST_TEMPERATURE),
        (("textGenerationConfig", "topP"), sc.GEN_AI_REQUEST_TOP_P),
        (("textGenerationConfig", "stopSequences"), sc.GEN_AI_REQUEST_STOP_SEQUENCES),
    ),
    "amazon.nova": (
        (("inferenceConfig", "max_new_tokens"), sc.GEN_AI_REQUEST_MAX_TOKENS),
        (("inferenceConfig", "temperature"), sc.GEN_AI_REQUEST_TEMPERATURE),
        (("inferenceConfig", "topP"), sc.GEN_AI_REQUEST_TOP_P),
        (("inferenceConfig", "topK"), sc.GEN_AI_REQUEST_TOP_K),
        (("inferenceConfig", "stopSequences"), sc.GEN_AI_REQUEST_STOP_SEQUENCES),
    ),
    "meta": (
        (("max_gen_len",), sc.GEN_AI_REQUEST_MAX_TOKENS),
        (("temperature",), sc.GEN_AI_REQUEST_TEMPERATURE),
        (("top_p",), sc.GEN_AI_REQUEST_TOP_P),
    ),
}
_GENERIC_PARAMS = (
    (("max_tokens",), sc.GEN_AI_REQUEST_MAX_TOKENS),
    (("temperature",), sc.GEN_AI_REQUEST_TEMPERATURE),
    (("top_p",), sc.GEN_AI_REQUEST_TOP_P),
    (("top_k",), sc.GEN_AI_REQUEST_TOP_K),
)


def _dig(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _json_body(body: Any) -> Mapping[str, Any] | None:
    """InvokeModel's request body (bytes, str, or a file the application passed) as JSON, when it is."""
    if isinstance(body, (bytes, bytearray, str)):
        try:
            parsed = json.loads(body)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def _input_messages(kind: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "messages" in body:
        parts_of = _anthropic_parts if kind == "anthropic" else _converse_parts
        return _messages(body["messages"], parts_of)
    prompt = body.get("inputText", body.get("prompt"))
    return [content.message("user", [content.text(prompt)])] if isinstance(prompt, str) else []


def _output(kind: str, response: Mapping[str, Any]) -> tuple[list[content.Part], Any]:
    """The answer's parts and finish reason in a non-streamed InvokeModel response."""
    if kind == "anthropic":
        return _anthropic_parts(response.get("content")), response.get("stop_reason")
    if kind == "amazon.nova":
        message = (response.get("output") or {}).get("message") or {}
        return _converse_parts(message.get("content")), response.get("stopReason")
    if kind == "amazon.titan":
        results = response.get("results") or [{}]
        return [content.text(r.get("outputText")) for r in results], results[0].get("completionReason")
    if kind == "meta" or "generation" in response:
        return [content.text(response.get("generation"))], response.get("stop_reason")
    return [], response.get("stop_reason", response.get("stopReason"))


def _body_usage(kind: str, response: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
    """Token counts in the model's own response body (used when Bedrock's headers are missing)."""
    if kind == "anthropic":
        usage = response.get("usage") or {}
        return (
            usage.get("input_tokens"),
            usage.get("output_tokens"),
            usage.get("cache_read_input_tokens"),
            usage.get("cache_creation_input_tokens"),
        )
    if kind == "amazon.nova":
        usage = response.get("usage") or {}
        return (
            usage.get("inputTokens"),
            usage.get("outputTokens"),
            usage.get("cacheReadInputTokenCount"),
            usage.get("cacheWriteInputTokenCount"),
        )
    if kind == "amazon.titan":
        results = response.get("results") or []
        outputs = [r.get("tokenCount") for r in results]
        total = sum(outputs) if outputs and all(type(o) is int for o in outputs) else None
        return response.get("inputTextTokenCount"), total, None, None
    return response.get("prompt_token_count"), response.get("generation_token_count"), None, None


class InvokeModel(Endpoint):
    """The request body is the model family's own JSON; so is the response, read from its bytes."""

    operation = sc.OP_CHAT

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def request_attributes(self, body: Mapping[str, Any], capture: bool) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_REQUEST_MODEL, body.get("modelId"))
        request = _json_body(body.get("body"))
        if request is None:
            return attrs
        kind = self.kind
        for path, key in _PARAMS.get(kind, _GENERIC_PARAMS):
            put(attrs, key, _dig(request, path))
        if capture:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = content.to_json(_input_messages(kind, request))
            system = request.get("system")
            if system:
                parts = _anthropic_parts(system) if kind == "anthropic" else _converse_parts(system)
                attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(parts)
            if request.get("tools"):
                attrs[sc.GEN_AI_TOOL_DEFINITIONS] = content.to_json(request["tools"])
        return attrs

    def response_attributes(self, response: Any, capture: bool) -> Attributes:
        """``response`` is ``(HTTP headers, body bytes)``."""
        headers, data = response
        attrs: Attributes = {}
        billed = {name: headers.get(header) for name, header in _BILLED_HEADERS.items()}
        body = _json_body(data) or {}
        if body:
            put(attrs, sc.GEN_AI_RESPONSE_ID, body.get("id"))
            put(attrs, sc.GEN_AI_RESPONSE_MODEL, body.get("model"))
        parts, reason = _output(self.kind, body)
        _finish_reason(attrs, reason)
        if billed["input"] is not None:
            _usage(attrs, billed["input"], billed["output"], billed["cache_read"], billed["cache_write"])
        else:
            _usage(attrs, *_body_usage(self.kind, body))
        if capture:
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([content.message("assistant", parts, reason)])
        return attrs

    def stream_recorder(self, capture: bool) -> StreamRecorder:
        return _InvokeModelStream(self.kind, capture)


class _InvokeModelStream(StreamRecorder):
    """Chunks of the model family's own events; the last carries Bedrock's billed counts."""

    __slots__ = ("billed", "capture", "id", "kind", "model", "pieces", "reason", "usage")

    def __init__(self, kind: str, capture: bool) -> None:
        self.kind = kind
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.reason: str | None = None
        self.billed: Mapping[str, Any] | None = None
        self.usage: dict[str, Any] = {}  # the model's own counts, when Bedrock's are missing
        self.pieces: list[str] = []

    def add(self, event: Any) -> None:
        chunk = event.get("chunk")
        if chunk is None:
            return
        data = json.loads(chunk["bytes"])
        billed = data.get("amazon-bedrock-invocationMetrics")
        if billed is not None:
            self.billed = billed
        if self.kind == "anthropic":
            self._add_anthropic(data)
            return
        reason = (
            data.get("completionReason") or data.get("stop_reason") or (data.get("messageStop") or {}).get("stopReason")
        )
        if reason:
            self.reason = reason
        if self.capture:
            text = (
                data.get("outputText")
                or data.get("generation")
                or (((data.get("contentBlockDelta") or {}).get("delta") or {}).get("text"))
            )
            if text:
                self.pieces.append(text)

    def _add_anthropic(self, data: Mapping[str, Any]) -> None:
        kind = data.get("type")
        if kind == "message_start":
            message = data.get("message") or {}
            self.id = message.get("id")
            self.model = message.get("model")
        elif kind == "message_delta":
            self.reason = (data.get("delta") or {}).get("stop_reason") or self.reason
        elif kind == "content_block_delta" and self.capture:
            delta = data.get("delta") or {}
            piece = delta.get("text") or delta.get("partial_json") or delta.get("thinking")
            if piece:
                self.pieces.append(piece)

    def attributes(self) -> Attributes:
        attrs: Attributes = {}
        put(attrs, sc.GEN_AI_RESPONSE_ID, self.id)
        put(attrs, sc.GEN_AI_RESPONSE_MODEL, self.model)
        _finish_reason(attrs, self.reason)
        billed = self.billed
        if billed is not None:
            _usage(
                attrs,
                billed.get("inputTokenCount"),
                billed.get("outputTokenCount"),
                billed.get("cacheReadInputTokenCount"),
                billed.get("cacheWriteInputTokenCount"),
            )
        if self.capture:
            message = content.message("assistant", [content.text("".join(self.pieces))], self.reason)
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = content.to_json([message])
        return attrs


_CONVERSE = Converse()
# InvokeModel by model family: families without their own rules share the generic one
_INVOKE = {kind: InvokeModel(kind) for kind in (*_PARAMS, "")}


class _ResponseLost(Exception):
    """The response body could not be read: ``error`` is the call's own, raised as it is."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class BedrockInstrumentor(LibraryInstrumentor):
    """``BaseInstrumentor`` for Bedrock Runtime; the ``agentops_bedrock`` ``opentelemetry_instrumentor`` entry point."""

    package = "botocore.client"
    requirement = "boto3 >= 1.34.116"  # the first with Converse
    extra = "bedrock"
    provider = sc.PROVIDER_AWS_BEDROCK

    _client_classes: weakref.WeakSet[type] = weakref.WeakSet()

    def _patch(self, patches: list[Patch]) -> None:
        botocore_client = importlib.import_module("botocore.client")
        creator = botocore_client.ClientCreator
        patches.append(wrap_method(creator, "create_client", self._wrap_create_client, sessions=False))
        self._streaming_body = importlib.import_module("botocore.response").StreamingBody
        for cls in botocore_client.BaseClient.__subclasses__():  # the clients created before instrument()
            if getattr(cls, "_PY_TO_OP_NAME", {}).get("invoke_model") == "InvokeModel" and "converse" in cls.__dict__:
                self._instrument_client_class(cls)

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        for cls in list(self._client_classes):
            for name, value in list(cls.__dict__.items()):
                if isinstance(value, _BedrockMethod):
                    setattr(cls, name, value.__wrapped__)
        self._client_classes.clear()

    def _wrap_create_client(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        client = wrapped(*args, **kwargs)
        try:
            if self._settings is not None and client.meta.service_model.service_name == SERVICE:
                self._instrument_client_class(type(client))
        except Exception as exc:
            report_bug("BedrockInstrumentor.create_client", exc)
        return client

    def _client_attributes(self, client: Any) -> Attributes:
        endpoint_url = client.meta.endpoint_url
        return self._server_attributes(endpoint_url, endpoint_url)

    def _instrument_client_class(self, cls: type) -> None:
        """Wrap the four methods on a client's own class (botocore makes one per client)."""
        methods = {
            "converse": (False, _finish_converse),
            "converse_stream": (True, _finish_converse_stream),
            "invoke_model": (False, self._finish_invoke_model),
            "invoke_model_with_response_stream": (True, _finish_invoke_model_stream),
        }
        for name, (stream, finish) in methods.items():
            original = cls.__dict__.get(name)
            if original is None or isinstance(original, _BedrockMethod):
                continue
            wrapper = self._wrapper(name.startswith("converse"), finish, stream=stream)
            setattr(cls, name, _BedrockMethod(original, routing_session(wrapper, original)))  # takes session=
        self._client_classes.add(cls)

    def _wrapper(self, converse: bool, finish: Callable[[LLMCall, Any], None], *, stream: bool) -> Callable[..., Any]:
        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            settings = self._settings
            if settings is None or in_traced_call():  # off, or inside a call another instrumentor traces
                return wrapped(*args, **kwargs)
            try:
                if converse:
                    endpoint: Endpoint = _CONVERSE
                else:
                    kind = family(kwargs.get("modelId"))
                    endpoint = _INVOKE.get(kind) or _INVOKE[""]
                call = self._new_call(settings, self._client_attributes(instance), endpoint, kwargs, stream=stream)
            except Exception as exc:
                report_bug("BedrockInstrumentor.start", exc)
                return wrapped(*args, **kwargs)
            result = run_traced(call, wrapped, args, kwargs)
            lost: BaseException | None = None
            try:
                finish(call, result)
            except _ResponseLost as failed:
                lost = failed.error
            except Exception as exc:
                report_bug("BedrockInstrumentor.finish", exc)
                call.end_without_response()
            if lost is not None:
                raise lost  # outside the except block: the error is raised as the body read raised it
            return result

        return wrapper

    def _finish_invoke_model(self, call: LLMCall, result: Any) -> None:
        try:
            data = result["body"].read()
        except Exception as exc:  # the connection failed while the body arrived: the call's own error
            call.fail(exc)
            raise _ResponseLost(exc) from exc
        result["body"] = self._streaming_body(io.BytesIO(data), len(data))
        call.complete(((result.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}, data))


class _BedrockMethod(wrapt.FunctionWrapper):
    """A Bedrock client method wrapped by us (told apart from other wrappers when restoring)."""


def _finish_converse(call: LLMCall, result: Any) -> None:
    call.complete(result)


def _finish_converse_stream(call: LLMCall, result: Any) -> None:
    result["stream"] = IterableStreamProxy(result["stream"], call)


def _finish_invoke_model_stream(call: LLMCall, result: Any) -> None:
    result["body"] = IterableStreamProxy(result["body"], call)
