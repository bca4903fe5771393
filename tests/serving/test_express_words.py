"""An express consignment has no postal mail class (none of the one-hot features is set):
its reasons and the officer view call it an express consignment, not an unknown class."""

from __future__ import annotations

from screening import FeatureSpec
from screening.explain import SENTENCES
from serving.officer._present import _mail_class


def test_no_postal_class_reads_as_an_express_consignment() -> None:
    spec = FeatureSpec()
    postal = {"mail_class_parcel": 1.0, "mail_class_ems": 0.0}
    express = {"mail_class_parcel": 0.0, "mail_class_ems": 0.0}
    assert SENTENCES["mail_class"](postal, spec)[0] == "mail class parcel"
    assert "express consignment" in SENTENCES["mail_class"](express, spec)[0]
    assert _mail_class(express) == "Express consignment"
    assert _mail_class(postal) == "Parcel"
