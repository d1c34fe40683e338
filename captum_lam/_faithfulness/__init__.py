"""Internals of `captum_lam.faithfulness`: the deletion and insertion curves
(``curves``), ROAD's noisy linear imputation (``imputation``) and the
model-parameter randomisation test with the attribution methods by name
(``randomization``)."""
