"""The method's internals, below the public method modules.

`engine` (the one integration engine: rules, batching, chunks, finite checks,
convergence delta), `adaptive` (``n_steps="auto"``: nested rules and
`IntegrationReport`), `quadrature` (nodes and weights), `reach` (how far a
network reaches and the region a window depends on), `packing` (Captum's input
formats as one flat path), `model_state` (a model's buffers and the random
generators given back) and `checks` (the one argument-check module).
"""
