"""Fuzz the API from its own OpenAPI document (schemathesis): no 500, every answer in schema.

A real server on 127.0.0.1 over its own state and registry copy (the fuzzer halts and resumes
the service, so it must not share one with other tests); every request carries an admin key
so the fuzzer gets past authentication into the routes themselves.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode, checks  # noqa: E402

from serving._wire import ErrorAnswer, OutcomeConflictAnswer  # noqa: E402
from tests.conftest import Trained  # noqa: E402
from tests.serving.conftest import Server, make_settings, start_server  # noqa: E402

EXAMPLES = 15  # per operation and generation mode
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(trained.registry, root / "registry")
    yield from start_server(make_settings(root / "state", Path(root / "registry")))


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    failures: list[str],
    statuses: Counter[int],
) -> int:
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    def call(case: Any) -> None:
        nonlocal calls
        calls += 1
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
            statuses[response.status_code] += 1
        except Exception as exc:  # a check failed: keep the first line of each distinct one
            failures.append(f"{operation.label} [{mode.value}]: {str(exc).strip()[:600]}")

    try:
        call()
    except Unsatisfiable:
        # an operation with no parameters and no body has nothing to make invalid
        assert mode is GenerationMode.NEGATIVE, operation.label
    return calls


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(fuzz_server: Server) -> None:
    """Positive and negative examples for every operation; schemathesis's pytest plugin is
    not used (it breaks on pytest 9), hypothesis drives each operation's strategy instead."""
    headers = {"Authorization": f"Bearer {fuzz_server.keys['admin']}"}
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", headers=headers)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    calls, operations = 0, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            calls += _fuzz(operation, mode, headers, failures, statuses)
    assert operations >= 14
    assert calls >= operations * EXAMPLES // 2
    assert failures == [], "\n\n".join(dict.fromkeys(failures))
    assert {200, 404, 422} <= set(statuses), statuses  # the routes themselves were reached


def test_every_error_answer_is_declared(fuzz_server: Server) -> None:
    doc = fuzz_server.client("sorter").get("/openapi.json").json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            takes_input = "requestBody" in operation or operation.get("parameters")
            assert not takes_input or "422" in responses, f"{method} {path}"
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    conflict = status == "409" and path.startswith("/v1/outcomes")
                    model = OutcomeConflictAnswer if conflict else ErrorAnswer
                    schema = response["content"]["application/json"]["schema"]
                    ref = f"#/components/schemas/{model.__name__}"
                    assert schema == {"$ref": ref}, f"{method} {path} {status}"
