"""Membership-inference audit of a model artifact: attacks on its outputs and their figures.

The figures are an empirical test that bounds what these attacks achieve on this data; they are
not a proof of privacy (a stronger attack may do better).
"""

from __future__ import annotations

from edgekit.privacy.attacks import ATTACKS, attack_scores
from edgekit.privacy.metrics import attack_figures

__all__ = ["ATTACKS", "attack_figures", "attack_scores"]
