"""The published JSON Schema of scenario files, generated from netsim.scenario."""

from __future__ import annotations

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
