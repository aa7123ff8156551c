"""API keys on both stores: tokens shown once, only hashes kept, roles ordered, audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from healthscore.cli.main import app
from healthscore.store import Store
from healthscore.store._keys import (
    ROLES,
    ApiKeyError,
    Role,
    allows,
    authenticate,
    create_key,
    list_keys,
    revoke_key,
)
from healthscore.store._overrides import audit_log
from healthscore.store._schema import API_KEYS
from tests._stores import STORE_KINDS, fresh_store_target
from tests.conftest import EXAMPLE, toy_frames

URLSAFE = string.ascii_letters + string.digits + "-_"


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(fresh_store_target(request, request.param, tmp_path))
    yield opened
    opened.close()


def secret_of(token: str, key_id: str) -> str:
    return token.removeprefix(f"hs_{key_id}_")


def everything_stored(store: Store) -> str:
    """Every row of every table in the store, as one text to search."""
    return "\n".join(
        store.db.query(f"SELECT * FROM {table}").to_csv() for table in sorted(store.db.tables())
    )


@pytest.mark.parametrize("role", ROLES)
def test_a_created_key_authenticates_with_its_role(store: Store, role: Role) -> None:
    key, token = create_key(store.db, " billing sync ", role, by="dana")
    assert token.startswith(f"hs_{key.key_id}_") and len(secret_of(token, key.key_id)) == 43
    assert key.name == "billing sync" and key.created_by == "dana" and key.revoked_at is None
    found = authenticate(store.db, token)
    assert found is not None
    assert (found.key_id, found.name, found.role) == (key.key_id, "billing sync", role)
    assert found.last_used_at is not None


def test_wrong_or_malformed_tokens_do_not_authenticate(store: Store) -> None:
    key, token = create_key(store.db, "ci", "editor", by="dana")
    other, _ = create_key(store.db, "other", "viewer", by="dana")
    secret = secret_of(token, key.key_id)
    flipped = ("A" if secret[0] != "A" else "B") + secret[1:]
    wrong = [
        f"hs_{key.key_id}_{flipped}",
        f"hs_{other.key_id}_{secret}",
        token[:-1],
        token + "A",
        token.upper(),
        f" {token}",
        f"{token}\n",
        f"Bearer {token}",
        token.removeprefix("hs_"),
        secret,
        f"hs_{key.key_id}_",
        "hs__" + secret,
        "",
    ]
    for text in wrong:
        assert authenticate(store.db, text) is None, text
    assert authenticate(store.db, token) is not None


def test_arbitrary_text_never_authenticates_nor_raises(store: Store) -> None:
    key, token = create_key(store.db, "ci", "admin", by="dana")
    well_formed = st.text(URLSAFE, min_size=43, max_size=43).map(lambda s: f"hs_{key.key_id}_{s}")
    near = st.text().map(lambda s: f"hs_{key.key_id}_{s}")

    @settings(max_examples=200, deadline=None)
    @given(st.one_of(st.text(), near, well_formed))
    def check(text: str) -> None:
        if text != token:
            assert authenticate(store.db, text) is None

    check()


def test_a_revoked_key_no_longer_authenticates(store: Store) -> None:
    key, token = create_key(store.db, "ci", "editor", by="dana")
    kept, kept_token = create_key(store.db, "kept", "viewer", by="dana")
    revoked = revoke_key(store.db, key.key_id, by="erin")
    assert revoked.revoked_by == "erin" and revoked.revoked_at is not None
    assert authenticate(store.db, token) is None
    assert authenticate(store.db, kept_token) is not None
    with pytest.raises(ApiKeyError, match=r"revoked already.*by erin"):
        revoke_key(store.db, key.key_id, by="erin")
    with pytest.raises(ApiKeyError, match=rf"No API key 'key-nope'\. Active keys: {kept.key_id}\."):
        revoke_key(store.db, "key-nope", by="erin")
    with pytest.raises(ApiKeyError, match="'by' must name who revokes"):
        revoke_key(store.db, kept.key_id, by=" ")


def test_only_a_hash_is_kept_and_the_secret_is_nowhere(store: Store) -> None:
    key, token = create_key(store.db, "ci", "editor", by="dana")
    assert authenticate(store.db, token) is not None
    revoke_key(store.db, key.key_id, by="erin")
    stored = store.db.query(f"SELECT secret_hash FROM {API_KEYS}")["secret_hash"].iloc[0]
    secret = secret_of(token, key.key_id)
    assert stored not in (secret, token)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    text = everything_stored(store)
    assert key.key_id in text and secret not in text and token not in text
    log = audit_log(store.db)
    assert sorted(log["action"]) == ["key.create", "key.revoke"]
    assert set(log["object"]) == {f"key:{key.key_id}"}
    assert set(log["actor"]) == {"dana", "erin"}
    for detail in log["detail"]:
        assert json.loads(detail) == {"name": "ci", "role": "editor"}


def test_list_shows_every_key_but_never_a_hash(store: Store) -> None:
    first, _ = create_key(store.db, "one", "viewer", by="dana")
    second, _ = create_key(store.db, "two", "admin", by="dana")
    revoke_key(store.db, first.key_id, by="erin")
    hashes = set(store.db.query(f"SELECT secret_hash FROM {API_KEYS}")["secret_hash"])
    listed = list_keys(store.db)
    assert list(listed["key_id"]) == [first.key_id, second.key_id]
    assert "secret_hash" not in listed.columns
    assert not any(h in listed.to_csv() for h in hashes)
    assert listed["revoked_by"].tolist()[0] == "erin"


def test_last_use_is_written_at_most_once_a_minute(store: Store) -> None:
    _, token = create_key(store.db, "ci", "viewer", by="dana")
    assert list_keys(store.db)["last_used_at"].isna().all()
    first = authenticate(store.db, token)
    second = authenticate(store.db, token)
    assert first is not None and second is not None
    assert second.last_used_at == first.last_used_at
    earlier = dt.datetime(2026, 1, 1, 12, 0)
    store.db.execute(f"UPDATE {API_KEYS} SET last_used_at = ?", (earlier,))
    third = authenticate(store.db, token)
    assert third is not None and third.last_used_at is not None
    assert third.last_used_at > earlier
    assert pd.Timestamp(list_keys(store.db)["last_used_at"].iloc[0]) > earlier


def test_bad_input_is_refused_with_every_problem(store: Store) -> None:
    with pytest.raises(ApiKeyError) as caught:
        create_key(store.db, "  ", "owner", by="")
    message = str(caught.value)
    assert "The 'role' must be one of viewer, editor, admin. Got 'owner' instead" in message
    assert "'name' must say what the key is for" in message
    assert "'by' must name who makes the key" in message
    assert list_keys(store.db).empty and audit_log(store.db).empty


def test_roles_are_ordered() -> None:
    for i, role in enumerate(ROLES):
        for j, needed in enumerate(ROLES):
            assert allows(role, needed) is (i >= j)
    assert ROLES == get_args(Role) == ("viewer", "editor", "admin")


# ------------------------------------------------------------------ CLI

runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    (folder / "scorecard.yaml").write_text(EXAMPLE.read_text())
    with duckdb.connect(str(folder / "healthscore.duckdb")) as con:
        for name, frame in toy_frames(accounts=5, events=50).items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    return folder


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_cli_create_list_revoke(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, project: Path
) -> None:
    target = fresh_store_target(request, kind, tmp_path)
    where = ["-c", str(project / "scorecard.yaml"), "--store", target]
    assert "No API keys yet" in invoke("keys", "list", *where)
    out = invoke(
        "keys", "create", "--role", "editor", "--name", "billing [bold]sync", "--by", "dana", *where
    )
    token = next(line for line in out.splitlines() if line.startswith("hs_"))
    assert out.count(token) == 1 and "not shown again" in out
    key_id = token.split("_")[1]
    listed = invoke("keys", "list", *where)
    assert key_id in listed and "billing [bold]sync" in listed and "editor" in listed
    assert "active" in listed and token.split("_", 2)[2] not in listed
    store = Store.open(target)
    try:
        found = authenticate(store.db, token)
        assert found is not None and found.role == "editor"
    finally:
        store.close()
    assert "Revoked API key" in invoke("keys", "revoke", key_id, "--by", "erin", *where)
    listed = invoke("keys", "list", *where)
    assert "revoked" in listed and "by erin" in listed and "active" not in listed
    again = invoke("keys", "revoke", key_id, "--by", "erin", *where, code=2)
    assert "revoked already" in again
    bad = invoke("keys", "create", "--role", "owner", "--name", "x", "--by", "dana", *where, code=2)
    assert "Got 'owner' instead" in bad
    store = Store.open(target)
    try:
        assert authenticate(store.db, token) is None
        assert token.split("_", 2)[2] not in everything_stored(store)
    finally:
        store.close()
