"""Property-based requests against the real skill server: no 5xx, answers match the OpenAPI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.skills.helpers import skill_md, write_skill
from tests.skills.server import TOKEN, start
from tests.support.processes import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenApiSchema]:
    tmp = tmp_path_factory.mktemp("fuzz")
    source = tmp / "source"
    shutil.copytree(REPO / "skills", source)
    write_skill(source, "broken", skill_md("broken", metadata={"version": 2}))
    srv = start(tmp, source)
    srv.process.wait_http(srv.url + "/readyz")
    try:
        yield schemathesis.openapi.from_url(srv.url + "/openapi.json")
    finally:
        srv.process.stop()


def test_api_conforms(api_schema: OpenApiSchema) -> None:
    """Every operation: random valid and invalid requests never get a 5xx or an undocumented
    answer (status, content type, body schema)."""
    tested = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        tested.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"},
                excluded_checks=[schemathesis.checks.positive_data_acceptance],
            )

        check()
    assert "POST /api/v1/skills:validate" in tested and len(tested) == 9
