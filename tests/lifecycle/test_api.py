"""Acceptance: the management API over HTTP (through the Functions shim), with and without the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.lifecycle import promotion
from app.lifecycle.training import train
from app.model_loading.fetch_blob import read_pointer
from devstack.services import free_port

MODEL = "lifecycle-api"
KEY = "admin-key-for-tests-0123456789"
ADMIN = {"x-admin-key": KEY}

ROUTES = [
    ("GET", "/registry/models", None),
    ("GET", f"/registry/models/{MODEL}", None),
    ("GET", f"/registry/models/{MODEL}/compare", None),
    ("POST", f"/registry/models/{MODEL}/promote", {"version": "1"}),
    ("POST", f"/registry/models/{MODEL}/rollback", {}),
]


@pytest.fixture(scope="module")
def versions(settings_factory: Callable[..., Any]) -> dict[str, Any]:
    """Two versions of MODEL with different quality; nothing promoted yet."""
    settings = settings_factory(model_name=MODEL)
    runs = [train(settings, alpha=alpha, model_name=MODEL) for alpha in (1.0, 100.0)]
    better, worse = sorted(runs, key=lambda r: r.metrics["r2"], reverse=True)
    return {
        "good": better.version,
        "bad": worse.version,
        "r2_good": better.metrics["r2"],
        "r2_bad": worse.metrics["r2"],
        "gate": (better.metrics["r2"] + worse.metrics["r2"]) / 2,
    }


@pytest.fixture
def admin_shim(
    shim_factory: Callable[..., Any], settings_factory: Callable[..., Any], champion: dict[str, Any]
) -> Any:
    return shim_factory(settings_factory(admin_api_key=KEY))


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_routes_disabled_without_a_configured_key(
    shim_factory: Callable[..., Any],
    settings_factory: Callable[..., Any],
    champion: dict[str, Any],
    method: str,
    path: str,
    body: Any,
) -> None:
    shim = shim_factory(settings_factory())
    response = shim.request(method, path, json_body=body, headers={"x-admin-key": "anything"})
    assert response.status_code == 403
    assert response.json()["error"] == "admin_disabled"


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_routes_need_the_right_key(admin_shim: Any, method: str, path: str, body: Any) -> None:
    missing = admin_shim.request(method, path, json_body=body)
    assert missing.status_code == 401 and missing.json()["field"] == "x-admin-key"
    wrong = admin_shim.request(method, path, json_body=body, headers={"x-admin-key": KEY + "x"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"


def test_gate_promote_compare_rollback_over_http(
    admin_shim: Any,
    versions: dict[str, Any],
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_factory(model_name=MODEL)
    good, bad = versions["good"], versions["bad"]
    gate = {"metric": "r2", "op": ">=", "threshold": versions["gate"]}
    promote = f"/registry/models/{MODEL}/promote"

    refused = admin_shim.post(promote, json_body={"version": bad, "min_metric": gate}, headers=ADMIN)
    assert refused.status_code == 409, refused
    assert refused.json()["error"] == "promotion_refused"
    assert "fails the gate" in refused.json()["message"]
    assert promotion.alias_holder(settings, MODEL, "champion") is None

    accepted = admin_shim.post(promote, json_body={"version": int(good), "min_metric": gate}, headers=ADMIN)
    assert accepted.status_code == 200, accepted
    decision = accepted.json()["decision"]
    assert decision["promoted"] and decision["alias"] == "champion"
    assert accepted.json()["refreshing"] is False  # this app serves another model
    assert promotion.alias_holder(settings, MODEL, "champion") == good
    pointer = read_pointer(settings, MODEL)
    assert str(pointer.version) == good == decision["fallback_version"]

    # The decision is recorded on the version; both versions show in compare.
    rows = admin_shim.get(f"/registry/models/{MODEL}/compare", headers=ADMIN).json()["versions"]
    by_version = {row["version"]: row for row in rows}
    assert {good, bad} <= set(by_version)
    assert by_version[good]["aliases"] == ["champion"]
    assert by_version[good]["stage"] is None  # MLflow says "None"; the API says null
    assert by_version[good]["metrics"]["r2"] == pytest.approx(versions["r2_good"])
    assert by_version[bad]["metrics"]["r2"] == pytest.approx(versions["r2_bad"])
    only = admin_shim.get(f"/registry/models/{MODEL}/compare?versions={bad}", headers=ADMIN)
    assert [row["version"] for row in only.json()["versions"]] == [bad]

    # beat_champion: the worse version passes a low gate but does not beat the champion.
    low = {"metric": "r2", "op": ">=", "threshold": 0.0}
    not_better = admin_shim.post(
        promote, json_body={"version": bad, "min_metric": low, "beat_champion": True}, headers=ADMIN
    )
    assert not_better.status_code == 409 and "does not beat" in not_better.json()["message"]

    # Promote without a gate, then roll back to the previous champion.
    assert admin_shim.post(promote, json_body={"version": bad}, headers=ADMIN).status_code == 200
    assert promotion.alias_holder(settings, MODEL, "champion") == bad
    rolled = admin_shim.post(f"/registry/models/{MODEL}/rollback", headers=ADMIN)
    assert rolled.status_code == 200, rolled
    assert rolled.json()["decision"]["version"] == good
    assert promotion.alias_holder(settings, MODEL, "champion") == good
    assert str(read_pointer(settings, MODEL).version) == good

    detail = admin_shim.get(f"/registry/models/{MODEL}", headers=ADMIN).json()
    assert detail["aliases"] == {"champion": good}
    assert detail["alias_history"]["champion"][-1] == good
    assert detail["fallback_version"] == good
    assert {good, bad} <= {row["version"] for row in detail["versions"]}

    listed = admin_shim.get("/registry/models", headers=ADMIN).json()["models"]
    entry = next(model for model in listed if model["name"] == MODEL)
    assert entry["aliases"] == {"champion": good}
    assert int(entry["latest_version"]) >= max(int(good), int(bad))


def test_stage_promotion_archives_existing(
    admin_shim: Any, versions: dict[str, Any], settings_factory: Callable[..., Any]
) -> None:
    from app.model_loading.fetch_mlflow import client

    mlflow_client = client(settings_factory())
    promote = f"/registry/models/{MODEL}/promote"
    for version in (versions["bad"], versions["good"]):
        response = admin_shim.post(
            promote,
            json_body={"version": version, "stage": "staging", "publish_fallback": False},
            headers=ADMIN,
        )
        assert response.status_code == 200, response
        assert response.json()["decision"]["stage"] == "Staging"
    assert mlflow_client.get_model_version(MODEL, versions["good"]).current_stage == "Staging"
    assert mlflow_client.get_model_version(MODEL, versions["bad"]).current_stage == "Archived"
    listed = admin_shim.get("/registry/models", headers=ADMIN).json()["models"]
    entry = next(model for model in listed if model["name"] == MODEL)
    assert entry["stages"][versions["good"]] == "Staging"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "abc"}, "version"),
        ({"version": "1", "alias": "has space"}, "alias"),
        ({"version": "1", "stage": "Live"}, "stage"),
        ({"version": "1", "min_metric": {"metric": "r2", "op": "=>", "threshold": 1}}, "min_metric.op"),
        ({"version": "1", "min_metric": {"metric": "r2", "threshold": "high"}}, "min_metric.threshold"),
        ({"version": "1", "beat_champion": True}, "beat_champion"),
        ({"version": "1", "alias": "champion", "stage": "Production"}, "stage"),
        ({"version": "1", "unknown": 1}, "unknown"),
        ({}, "version"),
    ],
)
def test_bad_promote_bodies_name_the_field(admin_shim: Any, body: dict[str, Any], field: str) -> None:
    response = admin_shim.post(f"/registry/models/{MODEL}/promote", json_body=body, headers=ADMIN)
    assert response.status_code == 400, response
    assert response.json()["error"] == "invalid_request"
    assert response.json()["field"] == field
    assert response.json()["message"].startswith(f"{field}: ")


def test_alias_and_stage_together_are_refused_before_anything_moves(
    admin_shim: Any,
    versions: dict[str, Any],
    settings_factory: Callable[..., Any],
) -> None:
    from app.model_loading.fetch_mlflow import client

    mlflow_client = client(settings_factory())
    before = mlflow_client.get_model_version(MODEL, versions["bad"]).current_stage
    response = admin_shim.post(
        f"/registry/models/{MODEL}/promote",
        headers=ADMIN,
        json_body={"version": versions["bad"], "alias": "challenger", "stage": "Production"},
    )
    assert response.status_code == 400, response
    assert response.json()["field"] == "stage"
    assert "alias and stage were both given" in response.json()["message"]
    assert mlflow_client.get_model_version(MODEL, versions["bad"]).current_stage == before
    assert "challenger" not in (mlflow_client.get_registered_model(MODEL).aliases or {})


@pytest.mark.parametrize("body", [b'{"version": "1", "alias": ', b"not json", b'{"version": "1"}}'])
def test_malformed_json_is_a_400_about_the_body(admin_shim: Any, body: bytes) -> None:
    response = admin_shim.post(
        f"/registry/models/{MODEL}/promote", body=body, headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.status_code == 400, response
    assert response.json() == {
        "error": "invalid_json",
        "message": "The body is not valid JSON.",
        "field": "body",
    }


def test_unknown_model_and_version_are_404(admin_shim: Any, versions: dict[str, Any]) -> None:
    assert admin_shim.get("/registry/models/no-such-model", headers=ADMIN).status_code == 404
    assert admin_shim.get("/registry/models/no-such-model/compare", headers=ADMIN).status_code == 404
    missing = admin_shim.post(
        f"/registry/models/{MODEL}/promote", json_body={"version": "999"}, headers=ADMIN
    )
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    unknown = admin_shim.get(f"/registry/models/{MODEL}/compare?versions=999", headers=ADMIN)
    assert unknown.status_code == 404 and unknown.json()["field"] == "versions"
    nothing = admin_shim.post("/registry/models/no-such-model/rollback", headers=ADMIN)
    assert nothing.status_code == 404


def test_rollback_without_history_is_409(admin_shim: Any, settings_factory: Callable[..., Any]) -> None:
    settings = settings_factory(model_name="lifecycle-api-single")
    result = train(settings, alpha=1.0, model_name="lifecycle-api-single")
    promotion.promote(settings, result.model_name, result.version, alias="champion", publish=False)
    response = admin_shim.post("/registry/models/lifecycle-api-single/rollback", headers=ADMIN)
    assert response.status_code == 409 and response.json()["error"] == "nothing_to_roll_back"


def test_registry_down_is_503(shim_factory: Callable[..., Any], settings_factory: Callable[..., Any]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    shim = shim_factory(
        settings_factory(
            admin_api_key=KEY,
            mlflow_tracking_uri=dead,
            registry_timeout_seconds=1.0,
            startup_wait_seconds=0.0,
            fallback_enabled=False,
        )
    )
    response = shim.get("/registry/models", headers=ADMIN)
    assert response.status_code == 503, response
    assert response.json()["error"] == "registry_unavailable"
    assert "retry-after" in response.headers
