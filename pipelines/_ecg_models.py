"""The arrhythmia application's models: built from the command's options, saved, loaded.

``--kind`` chooses :class:`~sklstm.ecg.ArrhythmiaClassifier` (``beat``),
:class:`~sklstm.ecg.ArrhythmiaTagger` (``rhythm``) or the tagger with a
classifier beside it (``both``, the default); the tagger averages in a linear
model of the RR features unless ``--rr-model none``. This module turns the options
into that model, refusing bad ones before any record is read, and reads back
every model file ``train`` has written.
"""

import argparse

from sklearn.pipeline import Pipeline

from sklstm.ecg import AAMI_CLASSES, PAST_RR_RATIOS, ArrhythmiaClassifier, ArrhythmiaTagger

from ._cli import load_model

# What `train` saves (a dict, so that other applications' models are told apart).
MODEL_KEY = "arrhythmia_classifier"
# Model files written before the ArrhythmiaClassifier: its pipeline, settings and lead.
OLD_MODEL_KEYS = ("model", "extract", "lead")
# The grids of --search for --kind beat, rhythm and both; the other settings are the
# command's.
SEARCH_GRID = {"hidden_size": [32, 64], "static": ["repeat", "drop"]}
TAGGER_SEARCH_GRID = {"hidden_size": [32, 64], "window_step": [3, 6]}
PAIR_SEARCH_GRID = {"hidden_size": [32, 64], "beat_model__static": ["repeat", "drop"]}
# Options of the beat-at-a-time classifier only: (flag, attribute, parameter).
CLASSIFIER_OPTIONS = (
    ("--n-fraction", "n_fraction", "n_fraction"),
    ("--train-classes", "train_classes", "train_classes"),
    ("--static", "static", "static"),
    ("--pooling", "pooling", "pooling"),
    ("--ensemble", "ensemble", "n_estimators"),
)
MODELS = (ArrhythmiaClassifier, ArrhythmiaTagger)
# Options of the tagger's RR model: (flag, attribute and parameter).
RR_OPTIONS = (
    ("--rr-context", "rr_context"),
    ("--rr-reference", "rr_reference"),
    ("--rr-s-weight", "rr_s_weight"),
)


def _number_or_none(convert, low, high, what):
    """An argparse type: ``none``, or a number ``convert`` reads within [low, high]."""

    def parse(text):
        if text == "none":
            return text
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} or none, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} or none, got {text}")
        return value

    return parse


#: ``--rr-context``: beats on either side, or ``none``.
rr_context_option = _number_or_none(int, 1, float("inf"), "a number of beats, at least 1,")
#: ``--rr-s-weight``: a share of the say, or ``none``.
rr_s_weight_option = _number_or_none(float, 0, 1, "a number within [0, 1]")
#: ``--af-irregularity``: the atrial fibrillation rule's threshold, or ``none``.
af_irregularity_option = _number_or_none(float, 0, float("inf"), "a number at least 0")


def build_model(args, *, callbacks=None, beat_callbacks=None):
    """The library's model with the command's settings, refused before any record is read.

    Options left out keep the model's own defaults (the tagger's differ).
    ``callbacks`` go to the model's first network (the tagger's, unless
    ``--kind beat``), ``beat_callbacks`` to the beat model of ``--kind both``.
    """
    given = {
        param: value
        for param, value in (
            ("weight_power", args.weight_power),
            ("hidden_size", args.hidden_size),
            ("max_iter", args.max_iter),
        )
        if value is not None
    }
    if args.causal:
        # Causal beat tables cannot read the next beat.
        given.update(causal=True, rr=PAST_RR_RATIOS)
    settings = dict(
        lead=args.lead,
        unweighted=tuple(args.unweighted),
        random_state=args.seed,
        callbacks=callbacks,
        **given,
    )
    options = [(flag, param, getattr(args, attr)) for flag, attr, param in CLASSIFIER_OPTIONS]
    tagger = {}
    if args.rr_model is not None:
        if args.kind == "beat":
            raise SystemExit(
                "error: --rr-model sets the tagger's RR model, which --kind beat has not "
                "(--kind rhythm and both have)."
            )
        tagger["rr_model"] = None if args.rr_model == "none" else args.rr_model
    for flag, param in RR_OPTIONS:
        value = getattr(args, param)
        if value is None:
            continue
        if args.kind == "beat" or args.rr_model == "none":
            raise SystemExit(
                f"error: {flag} sets the tagger's RR model, which "
                f"{'--kind beat' if args.kind == 'beat' else '--rr-model none'} leaves out."
            )
        tagger[param] = None if value == "none" else value
    if args.af_irregularity is not None:
        if args.kind == "beat":
            raise SystemExit(
                "error: --af-irregularity sets the tagger's atrial fibrillation rule, which "
                "--kind beat has not (--kind rhythm and both have)."
            )
        tagger["af_irregularity"] = (
            None if args.af_irregularity == "none" else args.af_irregularity
        )
    beat = None
    if args.kind == "rhythm":
        clash = [flag for flag, _, value in options if value is not None]
        if clash:
            raise SystemExit(
                f"error: {', '.join(clash)} set(s) the beat-at-a-time classifier, which "
                "--kind rhythm has not (--kind both has)."
            )
    else:
        beat = dict(settings, callbacks=beat_callbacks if args.kind == "both" else callbacks)
        beat.update({param: value for _, param, value in options if value is not None})
        if "train_classes" in beat:
            beat["train_classes"] = tuple(beat["train_classes"])
        beat = ArrhythmiaClassifier(**beat)
    model = (
        beat if args.kind == "beat" else ArrhythmiaTagger(**settings, **tagger, beat_model=beat)
    )
    try:
        for part in (model, beat):
            if part is not None:
                part._validate_params()
        if beat is not None:
            beat._check_settings()
        model._check_names(unweighted=(model.unweighted, AAMI_CLASSES))
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    return model


def training_network(model):
    """The pipeline of the network that the training plot and the Ctrl-C message are about.

    The tagger's, unless Ctrl-C ended the fit of the beat model fitted after it.
    """
    if not isinstance(model, ArrhythmiaTagger):
        return model.estimators_[0]
    beat = model.beat_model_
    return beat.estimators_[-1] if beat is not None and beat.interrupted_ else model.estimator_


def beat_checkpoint_path(args):
    """Where ``--kind both`` checkpoints its beat model: beside the tagger's, ``CKPT.beat``."""
    if args.checkpoint is None:
        return None
    return args.checkpoint.with_name(args.checkpoint.name + ".beat")


def drop_callbacks(model):
    """Callbacks belong to training: the saved model (and its beat model) keeps none."""
    model.set_params(callbacks=None)
    if getattr(model, "beat_model", None) is not None:
        model.set_params(beat_model__callbacks=None)
        if model.beat_model_ is not None:
            model.beat_model_.set_params(callbacks=None)


def search_grid(model):
    """The grid of ``train --search`` for the model's kind."""
    if not isinstance(model, ArrhythmiaTagger):
        return SEARCH_GRID
    return TAGGER_SEARCH_GRID if model.beat_model is None else PAIR_SEARCH_GRID


def load_trained_model(args):
    """The trained model; ``--lead`` overrides the lead it was trained on."""
    bundle = load_model(args.model, kind="heartbeat-classification", keys=(), estimator=MODELS)
    if isinstance(bundle, MODELS):
        model = bundle
    elif isinstance(bundle.get(MODEL_KEY), MODELS):
        model = bundle[MODEL_KEY]
    elif set(OLD_MODEL_KEYS) <= set(bundle) and isinstance(bundle["model"], Pipeline):
        model = from_old_file(bundle)
    else:
        raise SystemExit(f"error: {args.model} is not a heartbeat-classification model.")
    if args.lead is not None:
        model.set_params(lead=args.lead)
    return model


def from_old_file(bundle):
    """The ArrhythmiaClassifier of a file that held its one pipeline, settings and lead."""
    pipeline = bundle["model"]
    sequences, network = pipeline.steps[0][1], pipeline.steps[-1][1]
    static = "head" if network.n_static_features else sequences.static
    model = ArrhythmiaClassifier(
        lead=bundle["lead"],
        static=static,
        hidden_size=network.hidden_size,
        pooling=network.pooling,
        max_iter=network.max_iter,
        batch_size=network.batch_size,
        learning_rate_init=network.learning_rate_init,
        **bundle["extract"],
    )
    model.estimators_ = [pipeline]
    model.classes_ = pipeline.classes_
    model.n_features_in_ = pipeline.n_features_in_
    model.n_steps_ = pipeline.steps[0][1].n_steps_
    model.interrupted_ = bool(getattr(pipeline.steps[-1][1], "interrupted_", False))
    return model


def model_params(model):
    """The model's parameters as JSON data (a beat model's, nested)."""
    params = {
        k: v
        for k, v in model.get_params(deep=False).items()
        if k not in ("callbacks", "random_state")
    }
    if params.get("beat_model") is not None:
        params["beat_model"] = model_params(params["beat_model"])
    return params
