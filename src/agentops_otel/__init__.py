"""agentops-otel: AgentOps-style session tracking for LLM agents, built on OpenTelemetry."""
