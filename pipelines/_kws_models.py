"""The keyword-spotting application's models: the library's spotters with the command's
settings, grid search by speaker, resumed fits, and model files of every layout."""

import sys
import warnings

from ._cli import TrainingInterrupted, interruptible, load_model

BACKGROUND = "_background_"
N_COPIES = 2
# What `train` saves (a dict, so that other applications' models are told apart).
MODEL_KEY = "keyword_spotter"
# Model files written before the KeywordSpotter: its pipeline and settings.
OLD_MODEL_KEYS = ("pipeline", "sample_rate", "background_label", "threshold", "segment_params")
SEARCH_GRID = {"hidden_size": [64, 128], "learning_rate_init": [1e-3, 3e-3]}


def make_spotter(
    *, sr, epochs=None, hidden_size=None, copies=None, seed=0, causal=False, **params
):
    """The library's KeywordSpotter (``causal``: CausalKeywordSpotter) with the command's
    settings (None: its defaults)."""
    from sklstm.audio import CausalKeywordSpotter, KeywordSpotter

    if epochs:
        params["max_iter"] = epochs
    if hidden_size:
        params["hidden_size"] = hidden_size
    if causal:
        if copies is not None:
            raise SystemExit(
                "error: --copies sets the KeywordSpotter's augmented copies; the causal "
                "spotter trains on recordings strung from the clips (leave --copies out)."
            )
        return CausalKeywordSpotter(
            sr=sr, background_label=BACKGROUND, random_state=seed, **params
        )
    return KeywordSpotter(
        sr=sr, n_copies=N_COPIES if copies is None else copies, background_label=BACKGROUND,
        random_state=seed, **params,
    )  # fmt: skip


def search(spotter, waves, labels, groups, noises, progress):
    """Grid search with speaker-grouped folds; Ctrl-C ends it without a model."""
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    searcher = GridSearchCV(
        spotter.set_params(verbose=0),
        SEARCH_GRID,
        cv=StratifiedGroupKFold(n_splits=3),
        verbose=2 if progress else 0,
        error_score="raise",
    )
    # skorch ends a fit at Ctrl-C and keeps its model; the search must stop instead.
    with interruptible(TrainingInterrupted):
        try:
            searcher.fit(waves, labels, groups=groups, noises=noises)
        except TrainingInterrupted:
            raise KeyboardInterrupt from None
    best = dict(best_params=searcher.best_params_, best_score=float(searcher.best_score_))
    return searcher.best_estimator_, best


def resumed(checkpoint):
    """The network of ``checkpoint``, for the spotter's fit to continue."""
    from sklstm.checkpoint import load_checkpoint
    from sklstm.io import ModelFileError

    try:
        return load_checkpoint(checkpoint)
    except (ModelFileError, OSError) as exc:
        raise SystemExit(f"error: cannot resume from {checkpoint}: {exc}") from None


def fit_reporting_warnings(spotter, waves, labels, noises, *, resume, checkpoint, progress):
    """Fit, passing the warnings on to stderr (``train`` reports an interruption itself)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            spotter.fit(waves, labels, noises=noises, resume=resume)
        except ValueError as exc:
            if resume is None:
                raise
            raise SystemExit(
                f"error: cannot resume from {checkpoint}: {exc} Resume with that run's "
                "options, or delete it to start again."
            ) from None
    for warning in caught:
        if progress and not str(warning.message).startswith("Training was interrupted"):
            print(f"warning: {warning.message}", file=sys.stderr)


def load_spotter(path):
    """The trained spotter of a model file: a KeywordSpotter (of the former layout too)
    or a CausalKeywordSpotter."""
    import torch

    from sklstm.audio import CausalKeywordSpotter, KeywordSpotter

    # One clip or one recording's segments: one thread is fastest, and 2 threads
    # under load made a 1-s prediction 8x slower (median 64 ms instead of 8 ms).
    torch.set_num_threads(1)
    spotters = (KeywordSpotter, CausalKeywordSpotter)
    model = load_model(path, kind="keyword-spotting", keys=(), estimator=spotters)
    if isinstance(model, spotters):
        return model
    if isinstance(model.get(MODEL_KEY), spotters):
        return model[MODEL_KEY]
    if not set(OLD_MODEL_KEYS) <= set(model):
        raise SystemExit(f"error: {path} is not a keyword-spotting model.")
    pipeline = model["pipeline"]
    mfcc, network = pipeline[0], pipeline[-1]
    spotter = KeywordSpotter(
        sr=model["sample_rate"],
        n_mfcc=mfcc.n_mfcc,
        n_mels=mfcc.n_mels,
        hidden_size=network.hidden_size,
        pooling=network.pooling,
        max_iter=network.max_iter,
        batch_size=network.batch_size,
        learning_rate_init=network.learning_rate_init,
        background_label=model["background_label"],
        detector="segments",
        test_speeds=(),  # as these files were measured: each clip read once
        threshold=model["threshold"],
        # The segments these files were made with: total energy, 6 dB above its floor.
        segment_params={"bands": None, "margin_db": 6.0, **(model["segment_params"] or {})},
    )
    spotter.pipeline_ = pipeline
    spotter.classes_ = spotter.pipeline_.classes_
    network = spotter.pipeline_[-1]
    spotter.n_iter_, spotter.interrupted_ = network.n_iter_, bool(network.interrupted_)
    spotter.n_background_ = model.get("trained_on", {}).get("n_background", 0)
    return spotter
