"""govreport: Chinese government information-disclosure annual reports → checked, traceable data.

``service.extract(source, filename=None)`` is the one entry point a program needs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("govreport")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"


def __getattr__(name: str):
    # Imported lazily so that ``import service.types`` stays cheap.
    if name in ("extract", "Models", "reload_models"):
        from service import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)


__all__ = ["extract", "__version__"]
