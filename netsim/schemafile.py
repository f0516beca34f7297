"""The published JSON Schema of scenario files, generated from netsim.scenario."""

from __future__ import annotations

import functools
import json
from typing import Any

from netsim.scenario import Scenario
from netsim.schema import json_schema


def scenario_schema() -> dict[str, Any]:
    schema = json_schema(Scenario)
    for internal in ("name", "file"):  # set from the path, never written in a file
        schema["properties"].pop(internal)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "netsim scenario",
        **schema,
    }


@functools.cache
def schema_text() -> str:
    """scenario.schema.json as written: the schema is netsim's code, so under `make serve` it is made
    once per load of netsim (macros.py drops netsim from sys.modules after an edit to it). Building
    and dumping it on every rebuild was a tenth of a prose-edit reload's CPU."""
    return json.dumps(scenario_schema(), indent=2) + "\n"
