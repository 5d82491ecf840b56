"""The one exception family of reprokit, every exception it raises in one place.

Everything below the CLI raises a subclass of :class:`ReprokitError`; the CLI prints its
message on one line and exits with :attr:`ReprokitError.exit_code`.
"""

from __future__ import annotations


class ReprokitError(Exception):
    """Base of every error reprokit reports to a user."""

    exit_code = 1


class UsageError(ReprokitError):
    """The command line asked for something impossible (missing path, bad option)."""

    exit_code = 2


class InputError(ReprokitError):
    """A file given to reprokit cannot be used; the message names the file (and line)."""


class UnresolvedImports(ReprokitError):
    """Imports with no known distribution, under ``--strict``."""


class ResolutionFailed(ReprokitError):
    """The resolver could not find a consistent set of versions."""


class PackageIndexError(ReprokitError):
    """The package index answered with an error, or did not answer."""


class RetriesExhausted(ReprokitError):
    """A server did not answer: every try of :func:`reprokit.http.send` failed with a
    condition worth retrying (no connection, a timeout, 429, 5xx). ``reason`` is the last.
    Callers catch it and say which service it was."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TarballRefused(InputError):
    """A member of a bundle's tarball that would be unsafe, or too much, to extract."""


class HashMismatch(ReprokitError):
    """Downloaded or stored bytes do not have the sha256 recorded for them."""


class NixError(ReprokitError):
    """A ``nix`` command failed, or Nix-specific input is invalid."""


class PinError(ReprokitError):
    """No nixpkgs revision could be chosen for the requested channel and date."""


class InterpreterUnavailable(NixError):
    """The pinned nixpkgs has no interpreter for the paper's Python version."""


class SourceNotVendored(NixError):
    """The Nix build would name a file that is not in the bundle's vendor/ folder."""


class SandboxUnavailable(ReprokitError):
    """Bundle code was to run contained, and the sandbox cannot be set up here."""


class RebuildFailed(ReprokitError):
    """pip could not install the bundle's lock from its vendored files. ``output`` is what
    pip printed (the message is one line of it)."""

    def __init__(self, text: str, output: str = "") -> None:
        super().__init__(text)
        self.output = output


class NeedsBuildTool(InputError):
    """An sdist's build failed for want of something a build of its day took for granted
    and PyPI ships as a wheel: a module its setup.py imports undeclared (numpy, Cython) or
    a command (swig, cmake). Given it with the build tools, it may build."""

    def __init__(self, *, package: str, distribution: str, what: str, text: str) -> None:
        super().__init__(text)
        self.package, self.distribution, self.what = package, distribution, what


class PublishRefused(ReprokitError):
    """The bundle is not fit to publish (corrupt, secrets, bad CITATION.cff)."""


class ZenodoError(ReprokitError):
    """Zenodo answered with an error."""


class NeedsFolder(InputError):
    """An entry point failed writing into a folder the paper does not hold (git keeps no
    empty folder, so a paper's figures/ is often missing from its repository)."""

    def __init__(self, *, entry_point: str, folder: str, where: str, text: str) -> None:
        super().__init__(text)
        self.entry_point, self.folder, self.where = entry_point, folder, where


class NeedsModule(InputError):
    """An entry point failed for want of a module no import of the paper names (pandas
    reads Excel files with xlrd, which it imports only then)."""

    def __init__(self, *, module: str, where: str, message: str, text: str) -> None:
        super().__init__(text)
        self.module, self.where, self.message = module, where, message


class NeedsCommand(InputError):
    """An entry point failed for want of a command PyPI ships as a wheel (PyDSTool's AUTO
    runs swig at run time): the wheel joins the paper's environment, whose ``bin/`` the
    runs have on PATH."""

    def __init__(self, *, command: str, distribution: str, where: str, message: str, text: str) -> None:
        super().__init__(text)
        self.command, self.distribution, self.where, self.message = command, distribution, where, message


class NeedsSourceBuild(InputError):
    """An entry point crashed in the compiled code of a distribution installed from its
    wheel (a wheel built years ago against another patch release of CPython can crash
    under today's: numba 0.38's under CPython 3.6.15). Built from its sdist against the
    interpreter that runs it, it may not."""

    def __init__(self, *, distribution: str, where: str, message: str, text: str) -> None:
        super().__init__(text)
        self.distribution, self.where, self.message = distribution, where, message


class NeedsEarlierRelease(InputError):
    """An entry point failed inside a distribution as a caller of another release of it
    would (an argument or attribute it no longer has): the lock's release of it may be
    newer than the one the paper ran with."""

    def __init__(self, *, distribution: str, version: str, where: str, message: str, text: str) -> None:
        super().__init__(text)
        self.distribution, self.version, self.where, self.message = distribution, version, where, message


class ClusterError(ReprokitError):
    """The Dask scheduler that runs a recheck's checks could not be reached, or was lost."""
