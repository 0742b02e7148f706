"""sikm-mailbot: an email desk for SIKM (Jakarta entry/exit permit) applications."""

from importlib.metadata import PackageNotFoundError, version


def _installed_version() -> str:
    """The version pip recorded (pyproject.toml is the one source); "0+unknown" if not installed."""
    try:
        return version("sikm-mailbot")
    except PackageNotFoundError:  # imported from a bare checkout on sys.path
        return "0+unknown"


__version__ = _installed_version()
