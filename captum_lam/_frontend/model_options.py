"""Which model options the command line accepts together.

An option that would do nothing for the chosen model is refused rather than
ignored: the adapter options (``--weights``, ``--input-range``, ``--mean``,
``--pad-multiple``) only act on a ``package.module:factory`` model; ``--model``
and ``--checkpoint`` (or ``--models``) each choose the model, so only one may be
given. A factory without ``--weights`` runs with its own initial (possibly
random) weights, which deserves a warning.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

#: Options that configure the adapter around a factory's network.
ADAPTER_OPTIONS = ("--weights", "--input-range", "--mean", "--pad-multiple")


def given_adapter_options(args: Any) -> list[str]:
    """The adapter options a parsed command line gave (their defaults are None)."""
    return [
        option
        for option in ADAPTER_OPTIONS
        if getattr(args, option[2:].replace("-", "_"), None) is not None
    ]


def is_factory(spec: str) -> bool:
    """``package.module:factory`` (code to import and run), not a registry name."""
    return ":" in spec


def split_models(text: Optional[str], option: str = "--models") -> Optional[list[str]]:
    """Comma-separated model specs; None when not given; refuses an empty list."""
    if text is None:
        return None
    specs = [s.strip() for s in text.split(",") if s.strip()]
    if not specs:
        raise ValueError(f"{option}: give at least one model name, got {text!r}")
    duplicates = sorted({s for s in specs if specs.count(s) > 1})
    if duplicates:
        raise ValueError(f"{option}: {', '.join(duplicates)} given more than once")
    return specs


def check_model_options(
    *,
    model: Optional[str] = None,
    models: Optional[Sequence[str]] = None,
    checkpoint: Optional[str] = None,
    adapter: Sequence[str] = (),
    weights: Optional[str] = None,
) -> list[str]:
    """Refuse options that do nothing for the chosen model; return warnings.

    Parameters
    ----------
    model, models, checkpoint
        What ``--model``, ``--models`` (already split) and ``--checkpoint``
        gave; None where not given.
    adapter
        The adapter options given on the command line (names from
        :data:`ADAPTER_OPTIONS`).
    weights
        ``--weights``, to warn about a factory without it.

    Raises
    ------
    ValueError
        One line naming the options.
    """
    choosers = [
        name
        for name, value in (
            ("--model", model),
            ("--models", models),
            ("--checkpoint", checkpoint),
        )
        if value is not None
    ]
    if len(choosers) > 1:
        raise ValueError(
            f"{' and '.join(choosers)} each choose the model: give only one of them"
        )
    specs = [model] if model is not None else list(models or [])
    factories = [s for s in specs if is_factory(s)]
    if adapter:
        if checkpoint is not None:
            raise ValueError(
                f"{', '.join(adapter)} only apply to a package.module:factory "
                "model, not to --checkpoint (spandrel configures the architecture)"
            )
        if not factories:
            shown = f"registry model {', '.join(specs)}" if specs else "the default"
            raise ValueError(
                f"{', '.join(adapter)} only apply to a package.module:factory "
                f"model (--model), not to {shown}"
            )
        if len(factories) > 1:
            raise ValueError(
                f"{', '.join(adapter)} apply to one factory, but {len(factories)} "
                f"are given ({', '.join(factories)})"
            )
    return [
        f"{spec} runs with the factory's own (possibly random) weights: pass "
        "--weights FILE to load a checkpoint into it"
        for spec in factories
        if weights is None
    ]
