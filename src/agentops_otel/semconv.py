"""Every span and resource attribute name used by agentops-otel, in one place.

The SDK, the instrumentors, the collector, its stores, the OTTL generator and the dashboard all
import names from here; nothing else spells an attribute name out.
GenAI names follow the OpenTelemetry GenAI semantic conventions.
"""

from __future__ import annotations

from typing import Final

# --- agentops.* : session and event bookkeeping -------------------------------------------
SPAN_KIND: Final = "agentops.span.kind"
SESSION_ID: Final = "agentops.session.id"
SESSION_ID_GENERIC: Final = "session.id"  # the name other backends group sessions by
SESSION_TAGS: Final = "agentops.session.tags"
SESSION_END_STATE: Final = "agentops.session.end_state"
SESSION_END_STATE_REASON: Final = "agentops.session.end_state_reason"
SESSION_VIDEO: Final = "agentops.session.video"
SDK_VERSION: Final = "agentops.sdk.version"
PROJECT_ID: Final = "agentops.project.id"  # set by a collector only, never by a client

# Values of agentops.span.kind
KIND_SESSION: Final = "session"
KIND_LLM: Final = "llm"
KIND_ACTION: Final = "action"
KIND_TOOL: Final = "tool"
KIND_ERROR: Final = "error"
KIND_AGENT: Final = "agent"
SPAN_KINDS: Final = (KIND_SESSION, KIND_LLM, KIND_ACTION, KIND_TOOL, KIND_ERROR, KIND_AGENT)

# Event fields from the AgentOps event model
EVENT_ID: Final = "agentops.event.id"
EVENT_PARAMS: Final = "agentops.event.params"
EVENT_RETURNS: Final = "agentops.event.returns"
ACTION_TYPE: Final = "agentops.action.type"
ACTION_LOGS: Final = "agentops.action.logs"
ACTION_SCREENSHOT: Final = "agentops.action.screenshot"
TOOL_LOGS: Final = "agentops.tool.logs"
ERROR_CODE: Final = "agentops.error.code"
ERROR_DETAILS: Final = "agentops.error.details"
ERROR_LOGS: Final = "agentops.error.logs"
ERROR_TRIGGER_EVENT_ID: Final = "agentops.error.trigger_event.id"
ERROR_TRIGGER_EVENT_KIND: Final = "agentops.error.trigger_event.kind"
AGENT_ID: Final = "agentops.agent.id"
AGENT_NAME: Final = "agentops.agent.name"
FRAMEWORK: Final = "agentops.framework"  # the agent framework whose run made the span

# Values of agentops.framework, also the tag of a session a framework run opened
FRAMEWORK_OPENAI_AGENTS: Final = "openai-agents"
FRAMEWORK_LANGCHAIN: Final = "langchain"
FRAMEWORK_CREWAI: Final = "crewai"

# Cost, computed by a collector (or the OTTL transform), never trusted from a client
COST_INPUT: Final = "agentops.cost.input"
COST_OUTPUT: Final = "agentops.cost.output"
COST_SOURCE: Final = "agentops.cost.source"
COST_SENDER: Final = "agentops.cost.sender"  # the gen_ai.usage.cost a sender had set, kept as sent

# --- gen_ai.* : OpenTelemetry GenAI semantic conventions ------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # older name of gen_ai.provider.name, read on input only
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"  # includes cached tokens
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"  # USD, double; collector-computed
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
# GenAI events carrying message content apart from their span (OTLP log records, or span events):
# one event per call, or (older conventions) one per message and one per choice.
GEN_AI_OPERATION_DETAILS_EVENT: Final = "gen_ai.client.inference.operation.details"
GEN_AI_MESSAGE_EVENTS: Final = (
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
)
GEN_AI_CHOICE_EVENT: Final = "gen_ai.choice"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"  # a thread of messages (LLMEvent.thread_id)

# gen_ai.operation.name values
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_EMBEDDINGS: Final = "embeddings"
OP_GENERATE_CONTENT: Final = "generate_content"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_CREATE_AGENT: Final = "create_agent"

# gen_ai.provider.name values
PROVIDER_OPENAI: Final = "openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_GROQ: Final = "groq"
PROVIDER_MISTRAL: Final = "mistral_ai"
PROVIDER_COHERE: Final = "cohere"
PROVIDER_OLLAMA: Final = "ollama"  # not in the GenAI conventions' list: the name Ollama's own tooling uses
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"

# --- Older token conventions, read by the collector's normalisation only --------------------
LEGACY_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
LEGACY_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
LEGACY_CACHE_READ_TOKENS: Final = "gen_ai.usage.cache_read_input_tokens"
LEGACY_CACHE_CREATION_TOKENS: Final = "gen_ai.usage.cache_creation_input_tokens"
LEGACY_REASONING_TOKENS: Final = "gen_ai.usage.reasoning_tokens"
OPENINFERENCE_PROMPT_TOKENS: Final = "llm.token_count.prompt"
OPENINFERENCE_COMPLETION_TOKENS: Final = "llm.token_count.completion"
OPENINFERENCE_CACHE_READ_TOKENS: Final = "llm.token_count.prompt_details.cache_read"
OPENINFERENCE_CACHE_WRITE_TOKENS: Final = "llm.token_count.prompt_details.cache_write"
OPENINFERENCE_REASONING_TOKENS: Final = "llm.token_count.completion_details.reasoning"
OPENINFERENCE_MODEL_NAME: Final = "llm.model_name"
OPENINFERENCE_PROVIDER: Final = "llm.provider"
# OpenInference names the dashboard reads to show a span like ours (flattened message lists:
# <prefix>.<i>.message.role / .content / .contents.<j>.message_content.text / .tool_calls.<j>...)
OPENINFERENCE_SYSTEM: Final = "llm.system"
OPENINFERENCE_TOOL_NAME: Final = "tool.name"
OPENINFERENCE_INPUT_MESSAGES: Final = "llm.input_messages"
OPENINFERENCE_OUTPUT_MESSAGES: Final = "llm.output_messages"

# --- Other instrumentations' span kinds, read to classify their spans (meaning.py) ---------------
OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"  # LLM, TOOL, AGENT, CHAIN, EMBEDDING, ...
TRACELOOP_SPAN_KIND: Final = "traceloop.span.kind"  # workflow, task, agent, tool
LEGACY_LLM_REQUEST_TYPE: Final = "llm.request.type"  # older OpenLLMetry: chat, completion, embedding

# --- Standard OpenTelemetry names we set ------------------------------------------------------
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
SERVICE_NAME: Final = "service.name"

# --- Host environment: resource attributes set by the SDK (host.py) unless env_data_opt_out ----
HOST_NAME: Final = "host.name"
HOST_ARCH: Final = "host.arch"
OS_TYPE: Final = "os.type"
OS_DESCRIPTION: Final = "os.description"
OS_VERSION: Final = "os.version"
PROCESS_PID: Final = "process.pid"
PROCESS_RUNTIME_NAME: Final = "process.runtime.name"
PROCESS_RUNTIME_VERSION: Final = "process.runtime.version"
PROCESS_RUNTIME_DESCRIPTION: Final = "process.runtime.description"
HOST_CPU_COUNT: Final = "agentops.host.cpu.count"
HOST_MEMORY_TOTAL: Final = "agentops.host.memory.total"  # bytes
HOST_DISK_TOTAL: Final = "agentops.host.disk.total"  # bytes, of the working directory's disk
CODE_FUNCTION_NAME: Final = "code.function.name"  # the decorated function or method behind an event span

# The `exception` span event (OpenTelemetry exception semantic conventions)
EXCEPTION_EVENT: Final = "exception"  # span event name for an exception
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
