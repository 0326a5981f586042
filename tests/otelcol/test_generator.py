"""The generator of otel-collector.yaml: the checked-in file is fresh, and curation refuses what OTTL cannot follow."""

from __future__ import annotations

import datetime as dt
import random
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest
import yaml

from agentops_otel import otelcol_config as gen
from agentops_otel import usage
from agentops_otel.pricing import PRICE_SOURCE, rates_for
from tests.otelcol.otelcol import CONFIG, REPO_ROOT


@pytest.fixture(scope="module")
def fresh() -> str:
    return gen.render()


def test_checked_in_yaml_equals_a_fresh_generation(fresh: str) -> None:
    reason = gen.stale_reason(CONFIG, fresh)
    assert reason is None, reason


def test_a_file_of_another_genai_prices_release_is_stale_with_that_reason(tmp_path: Path, fresh: str) -> None:
    old = tmp_path / "otel-collector.yaml"
    old.write_text(fresh.replace(PRICE_SOURCE, "genai-prices 0.0.1"))
    reason = gen.stale_reason(old, fresh)
    assert f"generated with genai-prices 0.0.1, but genai-prices {genai_prices.__version__} is installed" in reason
    assert "pip install -c .ci/constraints.txt" in reason  # back to the pinned release
    assert f"agentops-otel collector-config --output {old}" in reason  # or regenerate for the installed one
    edited = tmp_path / "edited.yaml"
    edited.write_text(fresh.replace("batch:", "batch: ", 1))
    assert gen.stale_reason(edited, fresh) == (
        f"{edited} is out of date: run `agentops-otel collector-config --output {edited}` and commit it"
    )


def test_ci_installs_the_genai_prices_release_the_yaml_was_generated_from() -> None:
    """pyproject only bounds genai-prices below; CI pins the release the checked-in prices come from."""
    constraints = (REPO_ROOT / ".ci" / "constraints.txt").read_text().splitlines()
    assert f"genai-prices=={gen.generated_with(CONFIG.read_text())}" in constraints
    assert "-c .ci/constraints.txt" in (REPO_ROOT / ".ci" / "run").read_text()


def test_check_flag_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "otel-collector.yaml"
    stale.write_text(CONFIG.read_text().replace("genai-prices", "genai-prices-old", 1))
    command = [sys.executable, "-m", "agentops_otel.cli", "collector-config", "--check"]
    assert subprocess.run([*command, str(stale)], capture_output=True, cwd=REPO_ROOT).returncode == 1
    assert subprocess.run([*command, str(CONFIG)], capture_output=True, cwd=REPO_ROOT).returncode == 0


def test_output_flag_writes_the_file(tmp_path: Path, fresh: str) -> None:
    out = tmp_path / "out.yaml"
    assert gen.main(["--output", str(out)]) == 0
    assert out.read_text() == fresh


def test_yaml_shape(fresh: str) -> None:
    config = yaml.safe_load(fresh)
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    # no batch processor: it would hold acknowledged spans in memory; the exporters batch in their queue
    assert pipeline["processors"] == ["memory_limiter", gen.TRANSFORM_ID]
    assert config["service"]["extensions"] == [gen.STORAGE_ID]
    for exporter in (gen.AGENTOPS_EXPORTER_ID, gen.BACKEND_EXPORTER_ID):
        queue = config["exporters"][exporter]["sending_queue"]
        assert queue["storage"] == gen.STORAGE_ID and queue["batch"]["sizer"] == "items"
        assert config["exporters"][exporter]["retry_on_failure"]["max_elapsed_time"] == 0  # retries never stop
    transform = config["processors"][gen.TRANSFORM_ID]
    assert transform["error_mode"] == "ignore"
    [group] = transform["trace_statements"]
    assert group["conditions"] and len(group["statements"]) == len(gen.trace_statements())
    headers = config["exporters"][gen.AGENTOPS_EXPORTER_ID]["headers"]
    assert headers == {"X-Agentops-Api-Key": "${env:AGENTOPS_API_KEY:-}"}
    # every $ of the OTTL is escaped, so only ${env:...} references are expanded by the collector
    for statement in group["statements"]:
        assert "$" not in statement.replace("$$", "")


def test_every_priced_name_resolves_to_the_yaml_rates() -> None:
    yaml_price: dict[tuple[str, str | None], tuple] = {}  # (name, provider name or None) -> rates the YAML uses
    for group in gen.price_groups():
        for name in group.names:
            for provider in [*group.providers, *([None] if group.without_provider else [])]:
                assert (name, provider) not in yaml_price, f"{name} with {provider} priced twice"
                yaml_price[name, provider] = gen._rate_key(group.rates)
    priced_names = {name for name, _provider in yaml_price}
    for _home, name in gen.CURATED_MODELS:
        assert name.lower() in priced_names, name
    for (name, provider), rates in yaml_price.items():
        assert gen._rate_key(rates_for(name, provider)) == rates, (name, provider)


def test_float_literals_are_plain_decimals() -> None:
    assert gen._float(Decimal("0.0000025")) == "0.0000025"
    assert gen._float(Decimal("3")) == "3.0"
    assert gen._float(Decimal("1.25E-7")) == "0.000000125"


def test_header_prices_are_written_in_full() -> None:
    assert gen._per_mtok(Decimal(0)) == "0"  # GitHub Copilot's included models
    assert gen._per_mtok(Decimal(1)) == "1000000"  # an integral Decimal has no decimal point to strip to
    assert gen._per_mtok(Decimal("0.0000025")) == "2.5"
    assert gen._per_mtok(Decimal("0.00001250")) == "12.5"


def test_ottl_strings_and_yaml_quotes_are_escaped() -> None:
    assert gen._str('a"b\\c') == '"a\\"b\\\\c"'
    assert gen._yaml_quote("x == 'y' and IsMatch(z, \"^a$\")") == "'x == ''y'' and IsMatch(z, \"^a$$\")'"
    assert gen._regex_escape("gpt-4.1") == "gpt-4\\.1"


def test_time_of_day_prices_are_refused() -> None:
    with pytest.raises(gen.CurationError, match="time of day"):
        gen.price_groups([("deepseek", "deepseek-chat")])


def test_a_price_change_in_the_future_is_refused() -> None:
    # claude-sonnet-4-6 gets a new price on a date in genai-prices' data: curating it earlier is refused
    with pytest.raises(gen.CurationError, match="changes on"):
        gen.price_groups([("anthropic", "claude-sonnet-4-6")], today=dt.date(2025, 1, 1))


def test_an_unpriced_name_is_refused() -> None:
    with pytest.raises(gen.CurationError, match="no price"):
        gen.price_groups([("openai", "not-a-model-at-all")])


def test_the_source_written_is_pricing_py_s(fresh: str) -> None:
    assert f'"{PRICE_SOURCE}"' in fresh


def test_the_builder_manifest_pins_the_version_the_yaml_names() -> None:
    manifest = yaml.safe_load((REPO_ROOT / "otelcol" / "builder-config.yaml").read_text())
    assert manifest["dist"]["version"] == gen.OTELCOL_VERSION
    modules = [entry["gomod"] for kind in ("receivers", "processors", "exporters") for entry in manifest[kind]]
    assert {module.split()[1] for module in modules} == {f"v{gen.OTELCOL_VERSION}"}
    assert f"BUILDER_VERSION=v{gen.OTELCOL_VERSION}" in (REPO_ROOT / "scripts" / "build-otelcol.sh").read_text()


def _read_as_count(text: str) -> int | None:
    """What the YAML's string test plus Int() >= 0 make of a string (Python's re runs this RE2 pattern alike)."""
    return int(text) if re.fullmatch(gen._INT_STRING, text) and int(text) >= 0 else None


def test_the_count_pattern_reads_decimal_strings_as_usage_does_up_to_int64() -> None:
    rng = random.Random(64)
    edges = [usage.MAX_COUNT + delta for delta in (-1000, -11, -1, 0, 1, 2, 10**17, 10**19)]
    numbers = [0, 1, 9, 10, *edges, *(10**n + d for n in range(17, 21) for d in (-1, 0, 1))]
    numbers += [rng.randrange(10 ** rng.randint(1, 20)) for _ in range(2000)]
    samples = []
    for number in numbers:
        for sign in ("", "+", "-"):
            for zeros in ("", "0", "0" * 25):
                samples.append(f"{sign}{zeros}{number}")
    samples += ["", "+", "-", "0x10", "1e3", "1.0", "--1", "+-1", "12a"]
    for text in samples:
        value = usage._as_int(text)
        assert _read_as_count(text) == (value if value is not None and value >= 0 else None), text
    assert _read_as_count(str(usage.MAX_COUNT)) == usage.MAX_COUNT
    assert _read_as_count(str(usage.MAX_COUNT + 1)) is None
    # docs/otel-collector.md, Limits: strings Python's int() reads and the YAML does not
    for text in (" 12", "12\n", "1_000", "\u0661\u0662"):
        assert usage._as_int(text) == int(text) and _read_as_count(text) is None, text
