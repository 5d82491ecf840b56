"""The paper's own project, when the paper is a package (``pyproject.toml``'s ``[project]``,
``setup.cfg``'s ``[metadata]``, or a ``setup.py`` that names itself): its name, version and
entry points, which an installed package's code reads from its metadata
(``importlib.metadata.version("mypkg")``, the console scripts and plugins it declares).
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from reprokit import toml

# A version a build tool would derive (setuptools_scm, versioneer) when it is not written out.
UNKNOWN_VERSION = "0+unknown"


@dataclass(frozen=True, kw_only=True, slots=True)
class Project:
    name: str
    version: str
    source: str  # the file it was read from
    entry_points: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # group -> (name, "module:function")

    def metadata(self) -> str:
        """The METADATA of a distribution of this project (core metadata 2.1)."""
        return f"Metadata-Version: 2.1\nName: {self.name}\nVersion: {self.version}\n"

    def entry_points_txt(self) -> str:
        return "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items) + "\n" for group, items in self.entry_points)

    @property
    def dist_info(self) -> str:
        """The folder name installers give its metadata (``my_pkg-0.3.dist-info``)."""
        return f"{re.sub(r'[-_.]+', '_', self.name)}-{self.version.replace('-', '_')}.dist-info"


_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_SETUP_NAME = re.compile(r"""\bname\s*=\s*['"]([A-Za-z0-9][A-Za-z0-9._-]*)['"]""")
_SETUP_VERSION = re.compile(r"""\bversion\s*=\s*['"]([0-9][^'"\s]*)['"]""")


def own_project(paper: Path) -> Project | None:
    """The project the paper's top folder declares, or None when it is not a package."""
    found = _from_pyproject(paper / "pyproject.toml") or _from_setup_cfg(paper / "setup.cfg") or _from_setup_py(paper / "setup.py")
    return found if found is not None and _NAME.match(found.name) else None


def _from_pyproject(path: Path) -> Project | None:
    if not path.is_file():
        return None
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TOMLDecodeError, OSError, UnicodeDecodeError):
        return None
    project = data.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        return None
    version = project.get("version")
    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for group, table in (("console_scripts", project.get("scripts")), ("gui_scripts", project.get("gui-scripts")),
                         *((str(g), t) for g, t in (project.get("entry-points") or {}).items())):
        if isinstance(table, dict) and table:
            groups.append((group, tuple((str(k), str(v)) for k, v in table.items())))
    return Project(name=project["name"], version=version if isinstance(version, str) else UNKNOWN_VERSION, source=path.name,
                   entry_points=tuple(groups))


def _from_setup_cfg(path: Path) -> Project | None:
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
        name = parser.get("metadata", "name", fallback=None)
        version = parser.get("metadata", "version", fallback="")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    if not name:
        return None
    version = version if re.match(r"^[0-9][^\s:]*$", version) else UNKNOWN_VERSION
    return Project(name=name.strip(), version=version, source=path.name)


def _from_setup_py(path: Path) -> Project | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return None
    name = _SETUP_NAME.search(text)
    if name is None:
        return None
    version = _SETUP_VERSION.search(text)
    return Project(name=name.group(1), version=version.group(1) if version else UNKNOWN_VERSION, source=path.name)
