"""Print pip constraints that pin every runtime dependency of pyproject.toml (and its
``pdf`` extra) to its declared lower bound: ``name>=X`` becomes ``name==X``."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def main() -> None:
    project = tomllib.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["pdf"]]
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)", requirement)
        if match is None:
            raise SystemExit(f"no simple lower bound in {requirement!r}")
        print(f"{match.group(1)}=={match.group(2)}")


if __name__ == "__main__":
    main()
