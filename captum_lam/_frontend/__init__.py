"""What the two front ends, `captum_lam.cli` and `captum_lam.explorer`, share.

`commands` (the command names and their one-line help, without torch),
`model_options` (the model options and the ones that would do nothing),
`output_paths` (every output checked together before any work) and `startup`
(Ctrl-C while the command imports torch ends in one line). The explorer may
not import `cli/`, so this lives beside both.
"""
