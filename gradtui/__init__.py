"""gradtui: a terminal laboratory for vanishing and exploding gradients."""

__version__ = "0.1.0"
