"""The audit draws only the rows it uses from a synthetic recipe: the same captures as the
whole recipe's first rows, not a cheaper look-alike."""

from __future__ import annotations

import numpy as np

from edgekit.builder.stages.audit import load_group
from edgekit.data.dataset import load_source
from edgekit.data.synth import ALL_CLASSES, CLASSES


def test_limited_recipe_is_the_whole_recipes_first_rows() -> None:
    spec = "synthetic:rf?n=4500&seed=9"  # more than one generation chunk (4096 captures)
    whole = load_source(spec)
    for limit in (10, 4100):
        part = load_source(spec, limit=limit)
        assert len(part) == limit
        np.testing.assert_array_equal(part.x, whole.x[:limit])
        np.testing.assert_array_equal(part.y, whole.y[:limit])
        for k, v in whole.meta.items():
            np.testing.assert_array_equal(part.meta[k], v[:limit])


def test_audit_group_takes_max_rows_of_the_models_classes() -> None:
    labels = list(CLASSES)
    ds, y = load_group("synthetic:rf?n=20000&seed=1", "members", labels, 300, 1, None)
    assert len(ds) == len(y) == 300
    # the label indices name the same classes as the data's own labels
    names = np.asarray(ALL_CLASSES)[ds.y]
    assert [labels[i] for i in y] == list(names)
