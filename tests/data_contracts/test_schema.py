import json

from data_contracts import SCHEMA_DIR, json_schemas
from data_contracts._schema import FROZEN, render


def test_published_schemas_match_the_models() -> None:
    """A model change without regenerating (and versioning) the published files fails here;
    the files of earlier versions stay as they were published."""
    generated = json_schemas()
    published = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    assert set(published) == set(generated) | set(FROZEN)
    for name, schema in generated.items():
        assert published[name] == render(schema), f"regenerate {name}: parcelscreen schemas"


def test_schema_names_the_s10_and_hs_rules() -> None:
    schema = json.loads((SCHEMA_DIR / "parcel-declaration.v1.schema.json").read_text())
    line = schema["$defs"]["ContentLine"]["properties"]["hs_code"]
    assert any(option.get("pattern") == r"^\d{6,10}$" for option in line["anyOf"])
    assert schema["properties"]["contract_version"]["const"] == "1"


def test_version_2_schema_names_express_and_identification_numbers() -> None:
    schema = json.loads((SCHEMA_DIR / "parcel-declaration.v2.schema.json").read_text())
    assert schema["properties"]["contract_version"]["enum"] == ["1", "2"]
    express = schema["$defs"]["ExpressConsignment"]
    assert set(express["required"]) == {"carrier", "house_consignment"}
    party = schema["$defs"]["Party"]
    assert party["anyOf"] == [{"required": ["name"]}, {"required": ["id_number"]}]
    assert "id_number" in party["properties"]
