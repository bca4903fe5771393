"""The record database's driver lives in the scoring core (:mod:`screening._database`), so
that the entity history can share its connection and commit with the decision."""

from screening import Database as Database
