"""Accuracy of the default settings on public time-series sets, side by side, in one process.

    python -m benchmarks.tsc [--quick] [--sets A,B] [--only a,b] [--seeds N] [--json FILE]

Each set of ``$SKLSTM_DATA/ucr`` (the archives' own train/test splits) is fitted
by every contender in turn, in this process, and scored on its test part:
accuracy for classification, R² for regression. Contenders:

  default   make_pipeline(SequenceScaler(), LSTMClassifier()) (or LSTMRegressor()),
            every setting at its default
  tuned     the same with the setting the user guide recommends trying next
            (BEST_SETTING below)
  vote3     the average of three seeds' default models (VotingClassifier, soft
            voting, or VotingRegressor): three times the default's fit time
  minirocket  aeon's MiniRocketClassifier / MiniRocketRegressor (optional: skipped,
            with a note, when aeon is not installed: ``pip install aeon``)
  ridge     RidgeClassifierCV / RidgeCV on the flattened, standardized series
  plain     a hand-written PyTorch LSTM (last hidden state, Adam, constant rate)
            given the default's budget of updates and batch size
  v0.1      the defaults of sklstm 0.1 (no front end, last-step pooling, constant
            rate, at most 200 epochs of batches of 64 stopped by tol)

``--sets aeon`` runs the six equal-length classification sets that ship inside
the aeon package (BasicMotions, GunPoint, ItalyPowerDemand, ArrowHead, OSULeaf,
ACSF1; the archives' splits), on which the front end's layout was not developed: a
check that what was measured on ``ucr/`` carries to other sets (they did help choose
its initialization). ``--sets ragged`` runs aeon's two sets of unequal lengths
(PickupGestureWiimoteZ, JapaneseVowels), which nothing here was chosen on: the
sklstm contenders read the series as they are, the others (MiniRocket, ridge, the
plain LSTM) each series padded with its last value to the longest training series.

Fit and predict times are wall-clock seconds on this machine; the ratio of the
default's fit time to MiniRocket's is printed per set. ``--quick`` shrinks
every set and budget to a smoke test of a few seconds.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler

from sklstm import LSTMClassifier, LSTMRegressor, SequenceScaler
from sklstm._base import auto_batch_size, auto_epochs

# numba's default OpenMP threading layer (which aeon's MiniRocket runs on) leaves
# threads that compete with torch's for the cores once MiniRocket has run: a default
# fit of UnitTest after MiniRocket in the same process took 24 s where it took 9 s
# before it, on two threads. Its "workqueue" layer leaves none (10.8 against 12.2 s).
# numba reads its configuration from the environment when it is imported (and again
# when it compiles), and picks the layer when it first starts threads: set here, before
# aeon is imported, as `python -m benchmarks.tsc` does; a user's own choice wins. In a
# process that imported numba earlier (a test session that imported librosa) the
# layer may be numba's default, which only the timings show: the output says which.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

warnings.filterwarnings("ignore", category=ConvergenceWarning)

SETS = ("Coffee", "PigCVP", "Trace", "UnitTest", "Covid3Month", "CardanoSentiment")
#: Sets that ship inside the aeon package (read from its installed files with
#: ``--sets aeon``): the equal-length classification sets of the issue that asked
#: for strong defaults, on which the front end's layout was not developed.
AEON_SETS = ("BasicMotions", "GunPoint", "ItalyPowerDemand", "ArrowHead", "OSULeaf", "ACSF1")
#: Sets of unequal lengths bundled with aeon (``--sets ragged``), none of which any
#: choice of the defaults looked at: the sklstm contenders read them as they are; the
#: others, which need one length, read every series padded with its last value to
#: the longest training series (longer test series cut to it).
RAGGED_SETS = ("PickupGestureWiimoteZ", "JapaneseVowels")
CONTENDERS = ("default", "tuned", "vote3", "minirocket", "ridge", "plain", "v0.1")
#: The setting the user guide suggests trying after the defaults.
BEST_SETTING = dict(learning_rate_init=3e-3)
#: The defaults of sklstm 0.1, before the front end, the one-cycle budget and noise.
SETTINGS_0_1 = dict(
    frontend=None,
    pooling="last",
    learning_rate="constant",
    max_iter=200,
    batch_size=64,
    input_noise=0.0,
)
QUICK = dict(n_train=12, n_test=8, steps=40, max_iter=2)


def data_dir():
    return Path(os.environ.get("SKLSTM_DATA", Path(__file__).resolve().parents[2] / "shared/data"))


def _load_aeon_set(name):
    """One of aeon's bundled classification sets, in our ``(n, steps, channels)`` layout:
    a 3D array, or for unequal lengths a list of ``(steps_i, channels)`` arrays."""
    from aeon.datasets import load_classification

    arrays = []
    for split in ("train", "test"):
        # Explicit: some aeon versions default to the '_eq' files, series stretched to
        # one length, which would quietly turn the ragged sets into equal-length ones.
        X, y = load_classification(
            name, split=split, load_equal_length=False, load_no_missing=False
        )
        if isinstance(X, list):
            X = [np.asarray(x, dtype=np.float64).T for x in X]
        else:
            X = np.transpose(np.asarray(X, dtype=np.float64), (0, 2, 1))
        arrays += [X, np.asarray(y)]
    return arrays


def load_set(name, quick=False):
    """``(X_train, y_train, X_test, y_test, is_classification)`` of one set.

    One of :data:`AEON_SETS` or :data:`RAGGED_SETS` (from aeon's files, even where
    ``ucr/`` holds a set of the same name; the ragged ones as lists of series), or a
    set of ``$SKLSTM_DATA/ucr`` (``.npz``).
    """
    path = data_dir() / "ucr" / f"{name}.npz"
    if name in AEON_SETS + RAGGED_SETS:
        if not _aeon_available():
            raise ModuleNotFoundError(f"{name} is read from aeon's own files: pip install aeon.")
        X_train, y_train, X_test, y_test = _load_aeon_set(name)
    elif not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: set SKLSTM_DATA to the folder that holds ucr/ "
            "(see the data README)."
        )
    else:
        with np.load(path) as data:
            X_train, y_train, X_test, y_test = (
                data[k] for k in ("X_train", "y_train", "X_test", "y_test")
            )
    classification = y_train.dtype.kind in "OUSb"
    if quick:
        # A random subset: the archives sort some sets by class.
        rng = np.random.RandomState(0)
        train = rng.permutation(len(X_train))[: QUICK["n_train"]]
        test = rng.permutation(len(X_test))[: QUICK["n_test"]]
        steps = QUICK["steps"]
        X_train, y_train = _subset(X_train, train, steps), y_train[train]
        X_test, y_test = _subset(X_test, test, steps), y_test[test]
    return X_train, y_train, X_test, y_test, classification


def _subset(X, rows, steps):
    """Rows of a 3D array or a list of series, each cut to at most ``steps`` steps."""
    if isinstance(X, list):
        return [X[i][:steps] for i in rows]
    return X[rows, :steps]


def _lengths(X):
    return [len(x) for x in X] if isinstance(X, list) else [X.shape[1]] * len(X)


class _EqualLength:
    """For contenders that need one length: each series of a list padded with its last
    value to the longest training series, or cut to it (3D arrays pass unchanged)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def _pad(self, X):
        if not isinstance(X, list):
            return X
        cut = [x[: self.length_] for x in X]
        return np.stack(
            [np.pad(x, ((0, self.length_ - len(x)), (0, 0)), mode="edge") for x in cut]
        )

    def fit(self, X, y):
        self.length_ = max(_lengths(X))
        self.estimator.fit(self._pad(X), y)
        return self

    def predict(self, X):
        return self.estimator.predict(self._pad(X))


def _score(classification, y_true, y_pred):
    return accuracy_score(y_true, y_pred) if classification else r2_score(y_true, y_pred)


# -- contenders: each returns a fitted object with predict -------------------------


def sklstm_model(classification, seed, quick, **settings):
    cls = LSTMClassifier if classification else LSTMRegressor
    if quick:
        settings = dict(settings, max_iter=QUICK["max_iter"])
    return make_pipeline(SequenceScaler(), cls(random_state=seed, **settings))


def seed_vote(classification, seed, quick, n_seeds=3):
    """The defaults fitted with ``n_seeds`` seeds, their predictions averaged."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    members = [
        (f"seed{k}", sklstm_model(classification, n_seeds * seed + k, quick))
        for k in range(n_seeds)
    ]
    if classification:
        return VotingClassifier(members, voting="soft")
    return VotingRegressor(members)


def minirocket_model(classification, seed, quick):
    if classification:
        from aeon.classification.convolution_based import MiniRocketClassifier as cls
    else:
        from aeon.regression.convolution_based import MiniRocketRegressor as cls
    kwargs = dict(random_state=seed)
    if quick:
        kwargs["n_kernels"] = 84 * 4
    return _ChannelsFirst(cls(**kwargs))


class _ChannelsFirst:
    """aeon reads ``(n_cases, n_channels, n_timepoints)``."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        self.estimator.fit(np.ascontiguousarray(X.transpose(0, 2, 1), dtype=np.float64), y)
        return self

    def predict(self, X):
        return self.estimator.predict(np.ascontiguousarray(X.transpose(0, 2, 1), np.float64))


class _Flattened:
    """A linear model with built-in cross-validation on the standardized, flattened series."""

    def __init__(self, classification):
        ridge = RidgeClassifierCV if classification else RidgeCV
        self.model = make_pipeline(StandardScaler(), ridge(alphas=np.logspace(-3, 3, 10)))

    def fit(self, X, y):
        self.model.fit(X.reshape(len(X), -1), y)
        return self

    def predict(self, X):
        return self.model.predict(X.reshape(len(X), -1))


def default_budget(n_train):
    """The batch size and epochs that ``batch_size="auto"``, ``max_iter="auto"`` give."""
    batch = auto_batch_size(n_train)
    return batch, auto_epochs(-(-n_train // batch))


class PlainLSTM:
    """What users write by hand: standardize, an LSTM, its last state, a linear layer, Adam.

    Trained on padded full-length tensors for the default's number of epochs and
    batch size, at the constant rate 1e-3.
    """

    def __init__(self, classification, seed, quick, hidden=64):
        self.classification = classification
        self.seed = seed
        self.quick = quick
        self.hidden = hidden

    def fit(self, X, y):
        torch.manual_seed(self.seed)
        rng = np.random.RandomState(self.seed)
        self.mean_ = X.mean(axis=(0, 1))
        self.std_ = X.std(axis=(0, 1)) + 1e-8
        if self.classification:
            self.encoder_ = LabelEncoder().fit(y)
            target = torch.from_numpy(self.encoder_.transform(y))
            outputs = len(self.encoder_.classes_)
        else:
            self.y_mean_, self.y_std_ = y.mean(), y.std() + 1e-12
            target = torch.from_numpy(((y - self.y_mean_) / self.y_std_).astype(np.float32))
            outputs = 1
        self.lstm_ = torch.nn.LSTM(X.shape[2], self.hidden, batch_first=True)
        self.head_ = torch.nn.Linear(self.hidden, outputs)
        params = list(self.lstm_.parameters()) + list(self.head_.parameters())
        optimizer = torch.optim.Adam(params, lr=1e-3)
        inputs = self._tensor(X)
        batch, epochs = default_budget(len(X))
        if self.quick:
            epochs = QUICK["max_iter"]
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(X)))
            for start in range(0, len(X), batch):
                idx = order[start : start + batch]
                out = self._forward(inputs[idx])
                if self.classification:
                    loss = torch.nn.functional.cross_entropy(out, target[idx])
                else:
                    loss = torch.nn.functional.mse_loss(out[:, 0], target[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self

    def _tensor(self, X):
        return torch.from_numpy(((X - self.mean_) / self.std_).astype(np.float32))

    def _forward(self, x):
        _, (h, _) = self.lstm_(x)
        return self.head_(h[-1])

    def predict(self, X):
        with torch.inference_mode():
            out = self._forward(self._tensor(X)).numpy()
        if self.classification:
            return self.encoder_.inverse_transform(out.argmax(axis=1))
        return out[:, 0] * self.y_std_ + self.y_mean_


def make_contender(name, classification, seed, quick):
    if name == "default":
        return sklstm_model(classification, seed, quick)
    if name == "tuned":
        return sklstm_model(classification, seed, quick, **BEST_SETTING)
    if name == "vote3":
        return seed_vote(classification, seed, quick)
    if name == "minirocket":
        return _EqualLength(minirocket_model(classification, seed, quick))
    if name == "ridge":
        return _EqualLength(_Flattened(classification))
    if name == "plain":
        return _EqualLength(PlainLSTM(classification, seed, quick))
    if name == "v0.1":
        return sklstm_model(classification, seed, quick, **SETTINGS_0_1)
    raise ValueError(f"unknown contender {name!r}; choose from {', '.join(CONTENDERS)}")


def _numba_layer():
    """numba's threading layer once it has started threads (MiniRocket), else None."""
    numba = sys.modules.get("numba")
    if numba is None:
        return None
    try:
        return numba.threading_layer()
    except ValueError:  # no thread started yet
        return None


def _aeon_available():
    try:
        import aeon  # noqa: F401
    except ImportError:
        return False
    return True


def run_set(name, contenders, seeds, quick):
    X_train, y_train, X_test, y_test, classification = load_set(name, quick)
    row = {
        "task": "classification" if classification else "regression",
        "n_train": len(X_train),
        "n_test": len(X_test),
        "steps": max(_lengths(X_train)),  # the longest training series
        "min_steps": min(_lengths(X_train)),
        "channels": int(X_train[0].shape[-1]),
        "contenders": {},
    }
    threads = torch.get_num_threads()  # the one asked for (--threads), or torch's own
    for contender in contenders:
        scores, fits, predicts = [], [], []
        for seed in range(seeds):
            model = make_contender(contender, classification, seed, quick)
            try:
                start = time.perf_counter()
                model.fit(X_train, y_train)
                fitted = time.perf_counter()
                y_pred = model.predict(X_test)
                predicts.append(time.perf_counter() - fitted)
            finally:
                # aeon's MiniRocket on multivariate series, on numba's OpenMP layer, runs
                # OpenMP threads, which set OpenMP's thread count, and torch's with it, to
                # every core:
                # the contenders after it would train on other threads than asked
                # (measured: 1 -> 2, and 50 times slower beside another job).
                torch.set_num_threads(threads)
            fits.append(fitted - start)
            scores.append(float(_score(classification, y_test, y_pred)))
        row["contenders"][contender] = {
            "score": statistics.mean(scores),
            "scores": scores,
            "fit_s": statistics.median(fits),
            "predict_s": statistics.median(predicts),
        }
        print(
            f"  {name:<21} {contender:<11} score {statistics.mean(scores):7.3f}   "
            f"fit {statistics.median(fits):7.1f} s   predict {statistics.median(predicts):6.2f} s",
            flush=True,
        )
    return row


def summarize(results, contenders):
    """Means of each contender over the classification and the regression sets."""
    summary = {}
    for task in ("classification", "regression"):
        rows = [r for r in results.values() if r["task"] == task]
        if not rows:
            continue
        summary[task] = {
            c: {
                "mean_score": statistics.mean(r["contenders"][c]["score"] for r in rows),
                "mean_fit_s": statistics.mean(r["contenders"][c]["fit_s"] for r in rows),
            }
            for c in contenders
        }
    return summary


def print_table(results, summary, contenders):
    print()
    header = f"{'set':<21} {'task':<5} " + " ".join(f"{c:>11}" for c in contenders)
    if {"default", "minirocket"} <= set(contenders):
        header += f" {'fit ratio':>10}"
    print(header)
    for name, row in results.items():
        cells = " ".join(f"{row['contenders'][c]['score']:>11.3f}" for c in contenders)
        line = f"{name:<21} {row['task'][:5]:<5} {cells}"
        if {"default", "minirocket"} <= set(contenders):
            ratio = (
                row["contenders"]["default"]["fit_s"] / row["contenders"]["minirocket"]["fit_s"]
            )
            line += f" {ratio:>9.1f}x"
        print(line)
    for task, means in summary.items():
        cells = " ".join(f"{means[c]['mean_score']:>11.3f}" for c in contenders)
        print(f"{'mean ' + task[:5]:<27} {cells}")
    print("\nfit seconds per set")
    for name, row in results.items():
        cells = " ".join(f"{row['contenders'][c]['fit_s']:>11.1f}" for c in contenders)
        print(f"{name:<27} {cells}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tsc", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sets and budgets (smoke test)")
    parser.add_argument(
        "--sets",
        default=",".join(SETS),
        help="comma-separated set names; 'aeon' stands for the equal-length sets bundled "
        f"with aeon ({', '.join(AEON_SETS)}), 'ragged' for its unequal-length ones "
        f"({', '.join(RAGGED_SETS)})",
    )
    parser.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated contenders")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per contender (mean score)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--json", type=Path, default=Path("benchmarks/tsc.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    contenders = [c for c in args.only.split(",") if c]
    for c in contenders:
        if c not in CONTENDERS:
            parser.error(f"unknown contender {c!r}; choose from {', '.join(CONTENDERS)}")
    if "minirocket" in contenders and not _aeon_available():
        print("note: aeon is not installed (pip install aeon): MiniRocket is skipped")
        contenders.remove("minirocket")
    sets = [s for s in args.sets.split(",") if s]
    groups = {"aeon": AEON_SETS, "ragged": RAGGED_SETS}
    sets = list(dict.fromkeys(n for s in sets for n in groups.get(s, [s])))
    if any(s in AEON_SETS + RAGGED_SETS for s in sets) and not _aeon_available():
        parser.error("the sets bundled with aeon need aeon: pip install aeon")
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    results = {name: run_set(name, contenders, args.seeds, args.quick) for name in sets}
    summary = summarize(results, contenders)
    print_table(results, summary, contenders)
    layer = _numba_layer()
    if layer is not None:
        print(f"numba threading layer: {layer}")
    output = {
        "machine": {
            "platform": platform.platform(),
            "threads": torch.get_num_threads(),
            "numba_threading_layer": layer,
        },
        "quick": args.quick,
        "seeds": args.seeds,
        "best_setting": BEST_SETTING,
        "sets": results,
        "summary": summary,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2))
    return output


if __name__ == "__main__":
    main()
