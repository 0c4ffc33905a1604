"""Find the templates/, exercises/ and models/ folders, installed or in a checkout.

A wheel carries them inside the package (hatchling force-include); an editable install or a
checkout has them at the repository root. Leaves out: reading the files themselves.
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """'templates' -> the folder holding the Jinja2 templates."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"moe-workbook is installed without its {name}/ folder")
