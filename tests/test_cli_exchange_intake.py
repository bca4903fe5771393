"""parcelscreen exchange import against a partner that signs what it should not (issue 21
review): every indicator is checked field by field, an older or replayed bundle does not
replace newer rows, and a malformed or oversized file is a refusal in the decision log."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from parcelscreen.cli import main
from screening.bundles import key_id, load_private_key
from serving import Record, Settings
from tests import test_cli_exchange as base

agencies = base.agencies  # the fixture: two agencies, NL and BE, and custodians with epoch E1
NOW = base.NOW
PLANTED = "ZQPLANTED Jan Smith"


def _bundle(
    tmp: Path, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A genuine bundle of two seizures from NL to BE."""
    if not (tmp / "d.parquet").exists():
        items = base._declarations(tmp / "d.parquet", 2, NOW - timedelta(days=3))
        base._outcomes(tmp / "o.parquet", items, NOW - timedelta(days=2))
    nl = base._as("nl", tmp, monkeypatch)
    assert (
        main(
            [
                "exchange",
                "export",
                str(tmp / "d.parquet"),
                "--outcomes",
                str(tmp / "o.parquet"),
                "--since",
                (NOW - timedelta(days=7)).date().isoformat(),
                "--to",
                "be",
                "--out",
                str(tmp / name),
                *nl,
            ]
        )
        == 0
    )
    capsys.readouterr()
    return tmp / name


def _resign(
    tmp: Path,
    source: Path,
    name: str,
    rows: Callable[[list[Any]], Any] | None = None,
    manifest: Callable[[dict[str, Any]], None] | None = None,
    raw_indicators: bytes | None = None,
) -> Path:
    """A copy of ``source`` with altered indicators or manifest, signed again with NL's key:
    what a dishonest (or compromised) partner can send."""
    out = tmp / name
    shutil.copytree(source, out)
    data = json.loads((out / "indicators.json").read_text())
    if raw_indicators is None:
        changed = rows(data) if rows is not None else None
        raw_indicators = json.dumps(data if changed is None else changed).encode()
    (out / "indicators.json").write_bytes(raw_indicators)
    doc = json.loads((out / "manifest.json").read_text())
    doc["files"]["indicators.json"] = hashlib.sha256(raw_indicators).hexdigest()
    if manifest is not None:
        manifest(doc)
    raw = json.dumps(doc).encode()
    (out / "manifest.json").write_bytes(raw)
    key = load_private_key(tmp / "nl.key.pem")
    (out / "manifest.sig").write_text(
        json.dumps(
            {
                "algorithm": "ed25519",
                "key_id": key_id(key.public_key()),
                "signature": base64.b64encode(key.sign(raw)).decode(),
            }
        )
    )
    return out


def _set(n: int, field: str, value: Any) -> Callable[[list[Any]], None]:
    def change(rows: list[Any]) -> None:
        rows[n][field] = value

    return change


def _token(n: int, field: str, value: str) -> Callable[[list[Any]], None]:
    def change(rows: list[Any]) -> None:
        rows[n]["tokens"][0][field] = value

    return change


def _import_refused(
    bundle: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    be = base._as("be", tmp, monkeypatch)
    err = base._refused(["exchange", "import", str(bundle), *be], capsys)
    assert "Traceback" not in err and PLANTED not in err and "Jan" not in err, err
    return err


def test_every_indicator_is_checked_field_by_field(
    agencies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = agencies["tmp"]
    good = _bundle(tmp, "good", monkeypatch, capsys)
    rows = json.loads((good / "indicators.json").read_text())
    until = rows[1]["valid_until"]  # the bundle's, NOW + 30 days; the epoch ends NOW + 90
    beyond_epoch = (NOW + timedelta(days=120)).date().isoformat()
    # a day after the bundle's own date, as its export wrote it (NOW is the module's import
    # time: a run crossing midnight between import and export made NOW + 31 the same day)
    later = (date.fromisoformat(until) + timedelta(days=1)).isoformat()
    future = (NOW + timedelta(days=62)).strftime("%Y-%m")

    def far(doc: dict[str, Any]) -> None:
        doc["valid_until"] = "2999-12-31"

    def count(doc: dict[str, Any]) -> None:
        doc["indicators"] = 3

    cases: list[tuple[str, Any, Any, str]] = [
        ("until_epoch", _set(1, "valid_until", beyond_epoch), far, "indicator 1 (reference nl:"),
        (
            "until_bundle",
            _set(1, "valid_until", later),
            None,
            f"field valid_until: after the bundle's valid_until ({until})",
        ),
        ("role", _token(0, "role", PLANTED), None, "indicator 0 (reference nl:"),
        ("kind", _token(1, "kind", PLANTED), None, "indicator 1 (reference nl:"),
        (
            "epoch",
            _token(0, "token", "E9:" + "ab" * 16),
            None,
            "field tokens[0]: epoch E9 is not live here (live: E1)",
        ),
        (
            "ref",
            _set(0, "ref", "be:" + "ab" * 12),
            None,
            "field ref: not a reference of the sender (expected nl:...)",
        ),
        ("group", _set(0, "sharing_group", PLANTED), None, "field sharing_group"),
        ("month", _set(0, "month", "2026-13"), None, "field month: not a month"),
        ("future", _set(0, "month", future), None, "field month: after this month"),
        ("reliability", _set(0, "reliability", PLANTED), None, "field reliability: not one"),
        ("accuracy", _set(0, "accuracy", "9"), None, "field accuracy: not one of 1, 2, 3, 4"),
        ("handling", _set(1, "handling", "H7"), None, "indicator 1 (reference nl:"),
        ("extra", _set(0, "note", PLANTED), None, "field note: not a field of an indicator"),
        ("count", None, count, "the manifest counts 3 indicators; indicators.json holds 2"),
    ]
    for name, rows_change, manifest_change, expected in cases:
        bad = _resign(tmp, good, name, rows_change, manifest_change)
        err = _import_refused(bad, tmp, monkeypatch, capsys)
        assert expected in err, (name, err)
    err = _import_refused(tmp / "until_epoch", tmp, monkeypatch, capsys)
    assert "field valid_until: after the end of its tokens' epoch E1" in err
    assert "field tokens[0].role: not one of sender, recipient" in _import_refused(
        tmp / "role", tmp, monkeypatch, capsys
    )
    assert "field tokens[0].kind" in _import_refused(tmp / "kind", tmp, monkeypatch, capsys)
    assert "field handling" in _import_refused(tmp / "handling", tmp, monkeypatch, capsys)
    log = base._log(tmp, "be", monkeypatch)
    refused = [json.loads(r["detail"]) for r in log if r["kind"] == "exchange_import_refused"]
    assert len(refused) == len(cases) + 4 and not any(PLANTED in r["why"] for r in refused)
    assert "exchange_import" not in [r["kind"] for r in log]
    # the genuine bundle is still accepted
    be = base._as("be", tmp, monkeypatch)
    assert main(["exchange", "import", str(good), *be]) == 0


def test_an_older_or_replayed_bundle_does_not_replace_newer_rows(
    agencies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = agencies["tmp"]
    old = _bundle(tmp, "old", monkeypatch, capsys)
    new = _bundle(tmp, "new", monkeypatch, capsys)
    be = base._as("be", tmp, monkeypatch)
    assert main(["exchange", "import", str(new), *be]) == 0
    capsys.readouterr()
    err = _import_refused(old, tmp, monkeypatch, capsys)
    assert "not after nl's bundle new imported already" in err
    assert "not after nl's bundle new" in _import_refused(new, tmp, monkeypatch, capsys)
    record = Record(Settings())
    try:
        assert {r[0] for r in record.db.execute("SELECT bundle FROM exchange_indicators")} == {
            "new"
        }
    finally:
        record.close()
    kinds = [r["kind"] for r in base._log(tmp, "be", monkeypatch)]
    assert kinds.count("exchange_import_refused") == 2 and kinds.count("exchange_import") == 1


def test_malformed_or_oversized_files_are_refusals_in_the_log(
    agencies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = agencies["tmp"]
    good = _bundle(tmp, "good", monkeypatch, capsys)
    deep = _resign(tmp, good, "deep", raw_indicators=b"[" * 200_000)
    assert "indicators.json is nested too deeply to read" in _import_refused(
        deep, tmp, monkeypatch, capsys
    )
    broken = _resign(tmp, good, "broken", raw_indicators=b'[{"ref": ')
    assert "indicators.json is not JSON" in _import_refused(broken, tmp, monkeypatch, capsys)
    latin = _resign(tmp, good, "latin", raw_indicators=b'["\xff"]')
    assert "indicators.json is not JSON" in _import_refused(latin, tmp, monkeypatch, capsys)
    big = tmp / "big"
    shutil.copytree(good, big)
    (big / "manifest.json").write_bytes(b"{" + b" " * 70_000 + b"}")
    assert "manifest.json is larger than 65536 bytes" in _import_refused(
        big, tmp, monkeypatch, capsys
    )
    nested = tmp / "nested"
    shutil.copytree(good, nested)
    (nested / "manifest.json").write_bytes(b"[" * 50_000)
    assert "manifest.json is nested too deeply" in _import_refused(nested, tmp, monkeypatch, capsys)
    kinds = [r["kind"] for r in base._log(tmp, "be", monkeypatch)]
    assert kinds.count("exchange_import_refused") == 5
    # settings naming a custody folder that is not one: a clear error, not a traceback
    config = json.loads((tmp / "be.json").read_text())
    (tmp / "be_nocustody.json").write_text(json.dumps({**config, "custody": "nowhere"}))
    err = base._refused(
        ["exchange", "import", str(good), "--config", str(tmp / "be_nocustody.json")], capsys
    )
    assert "custody.json is missing or unreadable" in err
