"""parcelscreen exchange: custody, export (no clear personal value in any byte, valid STIX),
import (refusals naming why), match (point in time, reasons), prune; all in the decision log."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_contracts import DECLARATION_SCHEMA, OUTCOME_SCHEMA
from parcelscreen.cli import main
from screening.bundles import generate_key_pair
from screening.exchange import Custodian
from serving import Record, Settings

NOW = datetime.now(UTC)
PERSONAL = ("name", "street", "city", "postcode", "phone", "email", "importer_ref")


def _party(n: int, role: str) -> dict[str, Any]:
    mark = f"ZQ{role[0].upper()}{n:03d}"
    return {
        "name": f"{mark}NAME Smith",
        "street": f"{n + 1} {mark}STREET Road",
        "city": f"{mark}CITY",
        "postcode": f"{mark}PC",
        "country": "NL",
        "phone": f"+31 {mark}PHONE",
        "email": f"{mark.lower()}mail@example.org",
        "importer_ref": f"{mark}IMPORTER",
    }


def _declarations(path: Path, n: int, posted: datetime, start: int = 0) -> list[str]:
    rows: list[dict[str, Any]] = []
    for i in range(start, start + n):
        rows.append(
            {
                "contract_version": "1",
                "item_id": f"CP{i:08d}NL",
                "posted_at": posted,
                "origin_post": "NL-AMS-1",
                "origin_country": "NL",
                "destination_country": "BE",
                "sender": _party(i, "sender"),
                "recipient": _party(i, "recipient"),
                "category": "gift",
                "gross_weight_kg": 0.3,
                "declared_value": 10.0,
                "currency": "EUR",
                "postal_charges": None,
                "lines": [
                    {
                        "description": f"ZQDESC{i:03d} free text",
                        "quantity": 1,
                        "net_weight_kg": 0.2,
                        "value": 10.0,
                        "hs_code": None,
                        "origin_country": None,
                    }
                ],
            }
        )
    pq.write_table(pa.Table.from_pylist(rows, schema=DECLARATION_SCHEMA), path)
    return [str(r["item_id"]) for r in rows]


def _outcomes(path: Path, items: list[str], when: datetime) -> None:
    rows = [
        {
            "contract_version": "1",
            "item_id": item,
            "recorded_at": when,
            "inspected": True,
            "selection_reason": "model",
            "selection_probability": 1.0,
            "result": "seized",
            "substance": f"ZQSUBST{n:03d} cocaine",
            "quantity_g": 25.0,
            "officer_ref": f"ZQOFFICER{n:03d}",
            "corrects": None,
        }
        for n, item in enumerate(items)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=OUTCOME_SCHEMA), path)


@pytest.fixture
def agencies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("PARCELSCREEN_ENVIRONMENT", "development")
    for code in ("nl", "be"):
        generate_key_pair(tmp_path / f"{code}.key.pem", tmp_path / f"{code}.pub.pem")
        other = "be" if code == "nl" else "nl"
        config = {
            "agency": code,
            "custody": "custody",
            "threshold": 2,
            "signing_key": f"{code}.key.pem",
            "reliability": "B",
            "accuracy": "2",
            "handling": "H1",
            "valid_days": 30,
            "partners": {other: {"public_key": f"{other}.pub.pem"}},
        }
        (tmp_path / f"{code}.json").write_text(json.dumps(config))
        monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path / code))
        Record(Settings(), must_exist=False).close()
    assert (
        main(
            [
                "exchange",
                "custody",
                "init",
                str(tmp_path / "custody"),
                "--requesters",
                "nl=1000,be=1000",
            ]
        )
        == 0
    )
    epoch_end = (NOW + timedelta(days=90)).date().isoformat()
    assert (
        main(
            [
                "exchange",
                "custody",
                "epoch",
                str(tmp_path / "custody"),
                "E1",
                "--not-after",
                epoch_end,
            ]
        )
        == 0
    )
    return {"tmp": tmp_path}


def _as(agency: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp / agency))
    return ["--config", str(tmp / f"{agency}.json")]


def _log(tmp: Path, agency: str, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp / agency))
    record = Record(Settings())
    try:
        return record.audit.records()
    finally:
        record.close()


def test_export_import_match_prune(
    agencies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = agencies["tmp"]
    items = _declarations(tmp / "nl_decl.parquet", 12, NOW - timedelta(days=3))
    _outcomes(tmp / "nl_out.parquet", items, NOW - timedelta(days=2))
    nl = _as("nl", tmp, monkeypatch)
    assert (
        main(
            [
                "exchange",
                "export",
                str(tmp / "nl_decl.parquet"),
                "--outcomes",
                str(tmp / "nl_out.parquet"),
                "--since",
                (NOW - timedelta(days=7)).date().isoformat(),
                "--to",
                "be",
                "--out",
                str(tmp / "bundle"),
                *nl,
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["indicators"] == 12
    # not one clear personal value, free text, item ID or officer reference in any byte
    exported = b"".join(p.read_bytes() for p in sorted((tmp / "bundle").iterdir()))
    assert len(exported) > 10_000
    for n, item in enumerate(items):
        for role in ("sender", "recipient"):
            for value in _party(n, role).values():
                for form in (value, value.lower(), value.upper(), value.split()[0]):
                    if len(form) > 3 and form not in ("Smith", "smith", "SMITH"):
                        assert form.encode() not in exported, (role, form)
        for marker in (f"ZQDESC{n:03d}", f"ZQSUBST{n:03d}", f"ZQOFFICER{n:03d}", item):
            assert marker.encode() not in exported and marker.lower().encode() not in exported
    assert b"Smith" not in exported and b"smith" not in exported
    # STIX 2.1, valid under the validator's strict mode
    from stix2validator import ValidationOptions, validate_string

    stix = (tmp / "bundle" / "stix.json").read_text()
    report = validate_string(stix, ValidationOptions(version="2.1", strict=True))
    assert report.is_valid, [str(e) for e in report.errors]
    misp = json.loads((tmp / "bundle" / "misp.json").read_text())["Event"]
    assert len(misp["Object"]) == 12 and misp["SharingGroup"]["name"] == "eu-postal-drugs"
    assert any(t["name"] == 'europol:reliability="B"' for t in misp["Object"][0]["Tag"])

    # BE imports it, then matches a parcel of its own to the same recipient with a typo
    be = _as("be", tmp, monkeypatch)
    assert main(["exchange", "import", str(tmp / "bundle"), *be]) == 0
    assert json.loads(capsys.readouterr().out)["stored"]["indicators"] == 12
    rows = pq.read_table(tmp / "nl_decl.parquet").to_pylist()[:3]
    rows[0]["recipient"]["name"] = rows[0]["recipient"]["name"].replace("Smith", "Smyth")
    rows[0]["sender"] = rows[1]["sender"] = rows[2]["sender"] = _party(500, "sender")
    rows[1]["recipient"] = rows[2]["recipient"] = _party(501, "recipient")
    # after the import, point in time: the clock now, not NOW (taken when the module was
    # imported, which in a whole-suite run is minutes before this line)
    for r in rows:
        r["posted_at"] = datetime.now(UTC) + timedelta(minutes=1)
    pq.write_table(pa.Table.from_pylist(rows, schema=DECLARATION_SCHEMA), tmp / "be.parquet")
    assert main(["exchange", "match", str(tmp / "be.parquet"), *be]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["item_id"] for line in lines] == [rows[0]["item_id"]]
    from screening.exchange import FollowUps

    record = Record(Settings())
    (kept,) = FollowUps(record.db).hits(rows[0]["item_id"])  # for the officer's page
    record.close()
    assert kept["source"] == "nl" and kept["reliability"] == "B" and kept["kind"] == "address"
    assert lines[0]["reason"].startswith(
        "The recipient's address matches a seizure reported "
        f"by partner nl in {(NOW - timedelta(days=2)):%Y-%m}, "
        "reliability B2"
    )
    # no model with the exchange features is served here: the hit is reported, not scored
    assert lines[0]["reason"].endswith(
        "reported to the officer; the model in service does not "
        "score partner hits, so the score is unchanged"
    )
    # one hit for the one seizure, naming each variant that matched (Smyth sounds as Smith)
    (variants,) = lines[0]["variants"].values()
    assert variants == ["recipient address", "recipient phonetic_street"]
    assert kept["variants"] == [
        "the recipient's address",
        "the recipient's name (as it sounds) and street",
    ]
    # a parcel posted before the import does not match (no leak into backtests)
    rows[0]["posted_at"] = NOW - timedelta(days=1)
    pq.write_table(pa.Table.from_pylist(rows[:1], schema=DECLARATION_SCHEMA), tmp / "old.parquet")
    assert main(["exchange", "match", str(tmp / "old.parquet"), *be]) == 0
    assert capsys.readouterr().out == ""
    kinds = [r["kind"] for r in _log(tmp, "be", monkeypatch)]
    assert "exchange_import" in kinds and kinds.count("exchange_match") == 1
    assert "exchange_token_request" in kinds
    assert {"exchange_export", "exchange_token_request"} <= set(
        r["kind"] for r in _log(tmp, "nl", monkeypatch)
    )

    # history prune deletes partner data past valid_until (here: made to have passed)
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp / "be"))
    record = Record(Settings())
    record.db.execute("UPDATE exchange_indicators SET valid_until = '2000-01-01'")
    record.close()
    assert main(["history", "prune", "--days", "30"]) == 0
    deleted = json.loads(capsys.readouterr().out)["deleted"]
    assert deleted["partner_indicators"] == 12 and deleted["partner_tokens"] > 12 * 4
    assert deleted["partner_hits"] == 1
    record = Record(Settings())
    assert record.db.execute("SELECT COUNT(*) FROM exchange_tokens") == [(0,)]
    record.close()


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_import_refusals_name_why(
    agencies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = agencies["tmp"]
    items = _declarations(tmp / "d.parquet", 2, NOW - timedelta(days=3))
    _outcomes(tmp / "o.parquet", items, NOW - timedelta(days=2))
    nl = _as("nl", tmp, monkeypatch)
    since = (NOW - timedelta(days=7)).date().isoformat()
    assert (
        main(
            [
                "exchange",
                "export",
                str(tmp / "d.parquet"),
                "--outcomes",
                str(tmp / "o.parquet"),
                "--since",
                since,
                "--to",
                "be",
                "--out",
                str(tmp / "b"),
                *nl,
            ]
        )
        == 0
    )
    capsys.readouterr()
    be = _as("be", tmp, monkeypatch)
    # wrong signature: one byte of the manifest changed
    shutil.copytree(tmp / "b", tmp / "tampered")
    manifest = tmp / "tampered" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"indicators": 2', '"indicators": 3'))
    assert "wrong signature" in _refused(["exchange", "import", str(tmp / "tampered"), *be], capsys)
    # unknown partner: BE's settings without NL
    config = json.loads((tmp / "be.json").read_text())
    (tmp / "be_alone.json").write_text(json.dumps({**config, "partners": {}}))
    err = _refused(
        ["exchange", "import", str(tmp / "b"), "--config", str(tmp / "be_alone.json")], capsys
    )
    assert "unknown partner 'nl'" in err
    # wrong purpose: BE accepts NL's bundles only for another purpose
    partners = {"nl": {"public_key": "nl.pub.pem", "purposes": ["counter-terrorism"]}}
    (tmp / "be_purpose.json").write_text(json.dumps({**config, "partners": partners}))
    err = _refused(
        ["exchange", "import", str(tmp / "b"), "--config", str(tmp / "be_purpose.json")], capsys
    )
    assert "wrong purpose 'drug-trafficking-prevention'" in err
    # expired: a bundle whose valid_until has passed (re-signed by NL, so only expiry fails)
    (tmp / "nl_short.json").write_text(
        json.dumps({**json.loads((tmp / "nl.json").read_text()), "valid_days": 1})
    )
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp / "nl"))
    assert (
        main(
            [
                "exchange",
                "export",
                str(tmp / "d.parquet"),
                "--outcomes",
                str(tmp / "o.parquet"),
                "--since",
                since,
                "--to",
                "be",
                "--out",
                str(tmp / "short"),
                "--config",
                str(tmp / "nl_short.json"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    from screening.exchange import read_exchange_bundle
    from screening.exchange._bundle import Partner  # noqa: F401  (the type the reader takes)

    be = _as("be", tmp, monkeypatch)
    from parcelscreen._exchange_cmd import _partners
    from parcelscreen._exchange_config import load_config

    with pytest.raises(Exception, match="expired on"):
        read_exchange_bundle(
            tmp / "short",
            agency="be",
            partners=_partners(load_config(tmp / "be.json")),
            today=(NOW + timedelta(days=5)).date(),
            epochs={"E1": "2999-12-31"},
        )
    # addressed to another agency: NL's bundle for BE, imported by NL itself
    nl = _as("nl", tmp, monkeypatch)
    (tmp / "nl_self.json").write_text(
        json.dumps(
            {
                **json.loads((tmp / "nl.json").read_text()),
                "partners": {"nl": {"public_key": "nl.pub.pem"}},
            }
        )
    )
    err = _refused(
        ["exchange", "import", str(tmp / "b"), "--config", str(tmp / "nl_self.json")], capsys
    )
    assert "addressed to 'be'" in err
    kinds = [r["kind"] for r in _log(tmp, "be", monkeypatch)]
    assert kinds.count("exchange_import_refused") == 3 and "exchange_import" not in kinds


def test_token_requests_beyond_quota_are_refused_and_logged(
    agencies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = agencies["tmp"]
    _declarations(tmp / "many.parquet", 300, NOW)  # 300 parcels x 8 variants > quota 1000
    be = _as("be", tmp, monkeypatch)
    err = _refused(["exchange", "match", str(tmp / "many.parquet"), *be], capsys)
    assert "quota: be may have 1000 elements evaluated per day" in err
    refused = [
        r
        for r in _log(tmp, "be", monkeypatch)
        if r["kind"] == "exchange_token_request" and json.loads(r["detail"])["refused"]
    ]
    assert refused
    # the requester cannot raise its own quota: its settings have no say
    (tmp / "be_greedy.json").write_text(
        json.dumps({**json.loads((tmp / "be.json").read_text()), "quota": 10**9})
    )
    err = _refused(
        ["exchange", "match", str(tmp / "many.parquet"), "--config", str(tmp / "be_greedy.json")],
        capsys,
    )
    assert "field quota: a requester does not set its own quota" in err
    # nor name itself into the custodians' list: an agency they do not know is refused
    (tmp / "fr.json").write_text(
        json.dumps({**json.loads((tmp / "be.json").read_text()), "agency": "fr"})
    )
    _declarations(tmp / "few.parquet", 1, NOW)
    err = _refused(
        ["exchange", "match", str(tmp / "few.parquet"), "--config", str(tmp / "fr.json")], capsys
    )
    assert "fr is not a requester this custodian knows" in err
    unknown = [
        json.loads(r["detail"])
        for r in _log(tmp, "be", monkeypatch)
        if r["kind"] == "exchange_token_request"
    ]
    assert unknown[-1]["requester"] == "fr" and unknown[-1]["refused"]
    (row,) = [r for r in Custodian(tmp / "custody" / "c1").requests() if r["requester"] == "fr"]
    assert row["refused"]
    # the custodians (not FR) let FR ask, with a quota of their choosing
    assert main(["exchange", "custody", "allow", str(tmp / "custody"), "fr", "--quota", "50"]) == 0
    assert json.loads(capsys.readouterr().out) == {"requester": "fr", "quota": 50}
    assert (
        main(["exchange", "match", str(tmp / "few.parquet"), "--config", str(tmp / "fr.json")]) == 0
    )


def test_an_expired_epoch_leaves_nothing_usable(
    agencies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = agencies["tmp"]
    items = _declarations(tmp / "d.parquet", 2, NOW - timedelta(days=3))
    _outcomes(tmp / "o.parquet", items, NOW - timedelta(days=2))
    nl = _as("nl", tmp, monkeypatch)
    config = {**json.loads((tmp / "nl.json").read_text()), "valid_days": 400}
    (tmp / "nl_long.json").write_text(json.dumps(config))
    since = (NOW - timedelta(days=7)).date().isoformat()
    assert (
        main(
            [
                "exchange",
                "export",
                str(tmp / "d.parquet"),
                "--outcomes",
                str(tmp / "o.parquet"),
                "--since",
                since,
                "--to",
                "be",
                "--out",
                str(tmp / "b"),
                "--config",
                str(tmp / "nl_long.json"),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["valid_until"] == (NOW + timedelta(days=90)).date().isoformat()  # the epoch's end
    later = (NOW + timedelta(days=91)).date().isoformat()
    assert main(["exchange", "custody", "expire", str(tmp / "custody"), "--today", later]) == 0
    assert json.loads(capsys.readouterr().out) == {"destroyed": ["E1"], "live": []}
    for name in ("c1", "c2", "c3"):  # no share of the key is left anywhere
        assert (
            json.loads((tmp / "custody" / name / "keys.json").read_text())["epochs"][0]["share"]
            is None
        )
    err = _refused(["exchange", "match", str(tmp / "d.parquet"), *nl], capsys)
    assert "no live epoch" in err
