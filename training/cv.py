"""The one cross-validation loop of ``training/``.

Every trainer scores itself the same way: deal the items into folds, fit a model
on everything but a fold, score the fold with it; then, when there is a test
split, fit on everything and score the test split.  ``held_out_models`` is that
loop; the callers only say how to fit and what to do with each held-out set::

    for fold in held_out_models(train, fit, folds=5, seed=seed, test=test):
        score(fold.held, fold.model, into=fold.split)

Fold ``k`` of ``n`` holds every n-th item from the k-th (``order[k::n]``) of the
items sorted and shuffled by ``seed`` (or in their given order when ``seed`` is
None), so the same items and seed always give the same folds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Generic, TypeVar

Item = TypeVar("Item")
Model = TypeVar("Model")

#: Test-split "fold": the model fitted on every training item.
TEST = "test"
#: A cross-validation fold: the model fitted on every training item but the held-out ones.
CV = "cv"


@dataclass
class HeldOut(Generic[Item, Model]):
    """Items to score and a model that never saw them."""

    split: str          # CV or TEST
    held: list[Item]    # the items to score
    model: Model
    index: int = 0      # the fold's number (0-based; 0 for the test split)
    count: int = 1      # how many folds there are (1 for the test split)


def fold_count(n_items: int, folds: int | None) -> int:
    """How many folds ``n_items`` are dealt into: ``folds`` (at least 2, at most one
    per item), or exactly one per item (leave-one-out) when ``folds`` is None."""
    if folds is None:
        return n_items
    return max(2, min(folds, n_items))


def held_out_models(items: Sequence[Item], fit: Callable[[list[Item]], Model], *,
                    folds: int | None = 5, seed: int | None = 0,
                    fit_pool: Sequence[Item] | None = None, test: Sequence[Item] = (),
                    key: Callable[[Item], Hashable] = attrgetter("id"),
                    progress: Callable[[str], None] | None = None) -> Iterator[HeldOut[Item, Model]]:
    """Yield each fold of ``items`` with a model fitted without it, then ``test`` (if any)
    with a model fitted on all the training items.

    With ``seed`` the items are sorted by ``key`` and shuffled by ``random.Random(seed)``
    before being dealt, so the folds do not depend on the order the items come in;
    with ``seed=None`` they are dealt in the given order.  ``folds=None`` is
    leave-one-out.  Items are told apart by ``key`` (a report's id by default, so
    two copies of one report are never on both sides of a fold).

    A fold's model is fitted on ``fit_pool`` minus the held-out items, in the pool's
    order; without ``fit_pool``, on the other items in the order they were dealt.
    The test split's model is fitted on ``fit_pool``, or else on ``items`` as given.
    (Models are sensitive to the order of their training items, so these orders are
    part of what makes two runs give identical numbers.)

    The loop is lazy: each fold's model is fitted when the caller asks for it, after
    the previous fold was scored.
    """
    order = list(items)
    if seed is not None:
        order.sort(key=key)
        random.Random(seed).shuffle(order)
    fold_pool = order if fit_pool is None else list(fit_pool)
    count = fold_count(len(order), folds)
    for k in range(count):
        held = order[k::count]
        held_keys = {key(item) for item in held}
        rest = [item for item in fold_pool if key(item) not in held_keys]
        if progress:
            progress(f"fold {k + 1}/{count}: training on {len(rest)} reports")
        yield HeldOut(CV, held, fit(rest), index=k, count=count)
    if test:
        test_pool = list(items if fit_pool is None else fit_pool)
        if progress:
            progress(f"test split: training on {len(test_pool)} reports")
        yield HeldOut(TEST, list(test), fit(test_pool))
