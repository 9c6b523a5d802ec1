"""Options of the keyword-spotting commands: thresholds per keyword, test-time speeds."""

import argparse

__all__ = [
    "CAUSAL_READS_ONCE",
    "add_test_speeds",
    "merged_threshold",
    "threshold_option",
    "with_test_speeds",
]

CAUSAL_READS_ONCE = (
    "error: --test-speeds sets the speeds a KeywordSpotter also reads each clip at; the "
    "causal spotter reads the audio once (leave --test-speeds out)."
)


def with_test_speeds(spotter, args):
    """The spotter with ``--test-speeds`` (if given) in place of the model's."""
    if args.test_speeds is None:
        return spotter
    if not hasattr(spotter, "test_speeds"):
        raise SystemExit(
            f"error: {args.model} is a causal spotter, which reads the audio once: "
            "--test-speeds applies to the KeywordSpotter's models."
        )
    return spotter.set_params(test_speeds=args.test_speeds)


def _speeds_option(text):
    """``--test-speeds``: speed factors separated by commas, or ``none``."""
    if text.strip().lower() == "none":
        return ()
    try:
        speeds = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither speed factors separated by commas (e.g. 0.95,1.05) nor none"
        ) from None
    if not all(0.5 <= r <= 2 for r in speeds):
        raise argparse.ArgumentTypeError(f"{text!r}: speed factors are within [0.5, 2]")
    return speeds


def threshold_option(text):
    """``--threshold``: one probability, or ``KEYWORD=P`` pairs separated by commas."""
    try:
        if "=" not in text:
            threshold = float(text)
            values = [threshold]
        else:
            pairs = [part.split("=", 1) for part in text.split(",")]
            threshold = {name.strip(): float(value) for name, value in pairs}
            values = list(threshold.values())
            if "" in threshold or len(threshold) != len(pairs):
                raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a probability nor KEYWORD=P pairs separated by commas "
            "(e.g. 0.8, or 6=0.9,8=0.85)"
        ) from None
    if not all(0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: thresholds are probabilities, in [0, 1]")
    return threshold


def add_test_speeds(parser, description):
    """Add ``--test-speeds R,R,...|none`` to ``parser``."""
    parser.add_argument(
        "--test-speeds",
        type=_speeds_option,
        default=None,
        metavar="R,R,...|none",
        help=description,
    )


def merged_threshold(spotter, args):
    """``--threshold`` for ``spotter``: a dict naming some keywords keeps the model's others."""
    if not isinstance(args.threshold, dict):
        return args.threshold
    current = spotter.keyword_thresholds()
    unknown = [k for k in args.threshold if k not in current]
    if unknown:
        raise SystemExit(
            f"error: --threshold names {', '.join(map(repr, unknown))}, which "
            f"{'is' if len(unknown) == 1 else 'are'} not among the keywords of "
            f"{args.model}: {', '.join(map(repr, current))}."
        )
    return {**current, **args.threshold}
