"""Shared fixtures: the corpus and the loaded models."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def corpus_reports():
    from training.corpus import load_corpus

    return load_corpus(CORPUS)


@pytest.fixture(scope="session")
def seed_reports(corpus_reports):
    """The five reports the project started from (full reports with tables)."""
    return [r for r in corpus_reports if "tables" in r.gold]


@pytest.fixture(scope="session")
def models():
    from service.pipeline import Models

    return Models.load(ROOT / "models")
