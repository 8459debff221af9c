"""What the tree variants share: recognising a tree model and mapping its outputs."""

from __future__ import annotations

from edgekit.builder.variants.base import BuildContext, Skip
from edgekit.trees.ensemble import TreeEnsemble, find_tree_node, read_ensemble

__all__ = ["output_layout", "tree_ensemble"]


def tree_ensemble(ctx: BuildContext) -> TreeEnsemble:
    """The model's tree ensemble, or Skip when the model is not one (a CNN, say)."""
    if find_tree_node(ctx.model) is None:
        raise Skip("not a tree model (no ai.onnx.ml TreeEnsembleClassifier node)")
    ens = read_ensemble(ctx.model, ctx.model_path)
    if ens.rounds() is None:
        raise Skip("trees are not one per class per boosting round (not a boosted ensemble)")
    return ens


def output_layout(ctx: BuildContext) -> tuple[list[str], str | None]:
    """The model's output names in order and which one is the integer label (others: scores)."""
    names = [o.name for o in ctx.info.outputs]
    ints = [o.name for o in ctx.info.outputs if not o.dtype.startswith("float")]
    if len(ints) > 1 or len(names) - len(ints) != 1:
        raise Skip(f"outputs {names}: expected class probabilities and at most one integer label")
    return names, (ints[0] if ints else None)
