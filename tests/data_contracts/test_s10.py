import pytest

from data_contracts import MailClass, S10Error, check_digit, make_s10, parse_s10


@pytest.mark.parametrize(
    ("serial", "digit"),
    [
        ("12345678", 5),  # the UPU example RR123456785CH: sum 204, 204 mod 11 = 6, 11 - 6
        ("98765432", 6),  # sum 236, mod 11 = 5, 11 - 5
        ("00000008", 0),  # sum 56, mod 11 = 1: 11 - 1 == 10 gives 0
        ("00000000", 5),  # sum 0: 11 - 0 == 11 gives 5
        ("00100001", 5),  # sum 11, mod 11 = 0: 11 gives 5
    ],
)
def test_check_digit(serial: str, digit: int) -> None:
    assert check_digit(serial) == digit


@pytest.mark.parametrize(
    ("item_id", "reason"),
    [
        ("RR123456784CH", "check digit"),  # wrong check digit
        ("RR12345678CH", "expected 2 letters"),  # serial too short
        ("rr123456785CH", "expected 2 letters"),  # lower case
        ("R1123456785CH", "expected 2 letters"),  # digit in the service indicator
        ("RR123456785C", "expected 2 letters"),  # one-letter country
        ("", "expected 2 letters"),  # empty
    ],
)
def test_invalid_s10(item_id: str, reason: str) -> None:
    with pytest.raises(S10Error, match=reason):
        parse_s10(item_id)


@pytest.mark.parametrize(
    ("service", "mail_class"),
    [
        ("EE", MailClass.EMS),
        ("RR", MailClass.REGISTERED_LETTER),
        ("LX", MailClass.LETTER_EXPRESS),
        ("VV", MailClass.INSURED_LETTER),
        ("CP", MailClass.PARCEL),
        ("HA", MailClass.ECOMMERCE_PARCEL),
        ("MA", MailClass.M_BAG),
        ("UA", MailClass.LETTER_MISC),
        ("BA", MailClass.DOMESTIC_OR_BILATERAL),
        ("ZZ", MailClass.DOMESTIC_OR_BILATERAL),
    ],
)
def test_mail_class_from_service_indicator(service: str, mail_class: MailClass) -> None:
    parsed = parse_s10(make_s10(service, 12345678, "DE"))
    assert parsed.mail_class is mail_class
    assert str(parsed) == f"{service}123456785DE"
