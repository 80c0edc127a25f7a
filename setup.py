"""Packaging beyond pyproject.toml: ship specs/ and mappings/ inside the wheel.

The two folders stay at the top of the repository (one copy, edited there). The wheel carries
them as ``cdiscmap/_data/specs`` and ``cdiscmap/_data/mappings``: two data packages whose
source folders are mapped here, which pyproject.toml alone cannot express next to an automatic
package search. ``cdiscmap.resources`` finds them at run time. Only YAML, JSON and Markdown
are shipped, never a demo's generated ``mappings/<study>/raw/``.
"""

from setuptools import find_packages, setup

DATA_PACKAGES = {"cdiscmap._data.specs": "specs", "cdiscmap._data.mappings": "mappings"}

setup(
    packages=[*find_packages("src"), *DATA_PACKAGES],
    package_dir={"": "src", **DATA_PACKAGES},
    package_data={
        "cdiscmap": ["py.typed"],
        "cdiscmap.ingest": ["profiles/*.yaml"],      # source profiles (ingest/forms.py)
        # specs/ is JSON (tools/build_specs.py), mappings/ YAML
        **{name: ["*.md", "**/*.yaml", "**/*.json", "**/*.md"] for name in DATA_PACKAGES},
    },
    include_package_data=False,
)
