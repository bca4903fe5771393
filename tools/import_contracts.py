"""import-linter contract types of our own (``[tool.importlinter]`` in ``pyproject.toml``).

``private_modules``: no module of one of the listed packages imports a private module (any
name segment after the package's with a leading underscore, e.g. ``screening._model``) of
another listed package. A package's public surface is what its ``__init__`` exports; its
``_modules`` are free to change. import-linter's own ``forbidden`` contract cannot say this
(its wildcards match whole name segments only), so it is written here.
"""

from __future__ import annotations

from typing import Any

from importlinter import Contract, ContractCheck, fields, output


def _private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split(".")[1:])


class PrivateModulesContract(Contract):
    """No package imports another package's private modules."""

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        packages = set(self.packages)  # type: ignore[call-overload]
        broken: list[str] = []
        for importer in sorted(graph.modules):
            home = importer.split(".")[0]
            if home not in packages:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                other = imported.split(".")[0]
                if other == home or other not in packages or not _private(imported):
                    continue
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    broken.append(f"{importer}:{detail['line_number']} imports {imported}")
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["broken"]:
            output.print_error(line)
