"""The agentops-otel collector: OTLP in, cost and token attributes, SQLite sessions, REST API out.

Run it with ``agentops-otel collector``; :func:`enrich.enrich_attributes` is the enrichment as a
plain function, :mod:`store` the storage interface, :mod:`process` a helper that runs a collector
process (quickstart, tests, benchmarks).
"""
