"""Model files that hold data only: ``save`` and ``load``.

A model file is a zip archive with two members:

- ``manifest.json``: the format name and version, and the object tree in JSON:
  each estimator as its class path, its parameters and its fitted attributes;
  containers, numbers and strings as themselves;
- ``arrays.safetensors``: every numeric array (network weights included) in the
  safetensors format, referred to from the manifest by key.

Loading parses JSON and safetensors only. It imports classes solely from
``sklstm``, ``sklearn`` and ``pipelines``, instantiates only subclasses of
scikit-learn's ``BaseEstimator`` (and the network modules sklstm builds itself)
with the stored parameters, and never unpickles anything: a crafted file can at
worst fail to load. Pickle and joblib keep working for trusted files.

Not saved: skorch ``callbacks`` (training-time objects; the loaded model has
``callbacks=None``), the optimizer state and skorch's history (``loss_curve_``
and the other fitted attributes are kept). Training a loaded model with
``warm_start=True`` continues from its weights with a fresh optimizer.
"""

import importlib
import io
import json
import math
import warnings
import zipfile
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch
from sklearn.base import BaseEstimator

from . import _distributed
from ._atomic import atomic_path
from ._base import _BaseLSTM

__all__ = ["FORMAT_VERSION", "ModelFileError", "load", "save"]

FORMAT = "sklstm-model"
#: Version of the file layout this release writes and the newest it reads.
FORMAT_VERSION = 1
_TRUSTED_PACKAGES = ("sklstm", "sklearn", "pipelines")
_MAX_MANIFEST_BYTES = 64 * 2**20


class ModelFileError(ValueError):
    """A file is not an sklstm model file, or not one this release can read."""


class _ModuleState(dict):
    """Decoded network weights, waiting for their estimator to rebuild its network."""


def save(obj, path):
    """Save a fitted estimator, pipeline or container of them to a data-only file.

    Parameters
    ----------
    obj : estimator, Pipeline, or dict/list/tuple of them and plain values
        What to save. Estimators must come from sklstm or scikit-learn.
    path : str or path-like
        Destination, written atomically (a temporary file beside it, then a
        rename): an interrupted save never leaves a half-written file.

    Raises
    ------
    TypeError
        When ``obj`` holds something the format cannot represent (a function,
        an arbitrary object), naming where it sits.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklstm import SequenceScaler, save, load
    >>> scaler = SequenceScaler().fit(np.arange(12.0).reshape(2, 3, 2))
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.sklstm")
    >>> save(scaler, path)
    >>> load(path).mean_
    array([5., 6.])
    """
    arrays = {}
    tree = _encode(obj, "obj", arrays)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklstm_version": _version(),
        "object": tree,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        members = [
            ("manifest.json", json.dumps(manifest).encode(), zipfile.ZIP_DEFLATED),
            ("arrays.safetensors", safetensors.numpy.save(arrays), zipfile.ZIP_STORED),
        ]
        for name, data, compression in members:
            # A fixed date instead of the time of writing: the same model, the same bytes.
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load(path):
    """Load what :func:`save` wrote, without executing anything from the file.

    Parameters
    ----------
    path : str or path-like
        A model file.

    Returns
    -------
    obj : object
        The saved estimator, pipeline or container. sklstm estimators saved on
        a GPU load onto the CPU when no GPU is available (with a warning).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ModelFileError
        When the file is not an sklstm model file, comes from a newer format
        version, or refers to classes outside sklstm and scikit-learn.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an sklstm model file (not a zip archive).")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if not {"manifest.json", "arrays.safetensors"} <= names:
            raise ModelFileError(f"{path} is not an sklstm model file (members missing).")
        if archive.getinfo("manifest.json").file_size > _MAX_MANIFEST_BYTES:
            raise ModelFileError(f"{path}: manifest.json is implausibly large.")
        try:
            manifest = json.loads(archive.read("manifest.json"))
        except ValueError as exc:
            raise ModelFileError(f"{path}: manifest.json is not valid JSON ({exc}).") from None
        _check_manifest(manifest, path)
        try:
            arrays = safetensors.numpy.load(archive.read("arrays.safetensors"))
        except Exception as exc:  # safetensors raises its own error types
            raise ModelFileError(f"{path}: the array store is corrupt ({exc}).") from None
    return _decode(manifest["object"], arrays, path)


def _version():
    from . import __version__

    return __version__


def _check_manifest(manifest, path):
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an sklstm model file.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path} has an invalid format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in model format version {version} (by sklstm "
            f"{manifest.get('sklstm_version', '?')}); this sklstm reads versions up to "
            f"{FORMAT_VERSION}. Upgrade sklstm to load it."
        )
    if "object" not in manifest:
        raise ModelFileError(f"{path} holds no object.")


# -- encoding -------------------------------------------------------------------


def _encode(value, where, arrays):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, list | tuple):
        items = [_encode(v, f"{where}[{i}]", arrays) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {
            "__dict__": [
                [_encode(k, f"{where} key", arrays), _encode(v, f"{where}[{k!r}]", arrays)]
                for k, v in value.items()
            ]
        }
    if isinstance(value, torch.Tensor):
        return {"__tensor__": _encode(value.detach().cpu().numpy(), where, arrays)}
    if isinstance(value, np.ndarray):
        return _encode_array(value, where, arrays)
    if isinstance(value, np.random.RandomState):
        return {"__random_state__": _encode(value.get_state(), where, arrays)}
    if isinstance(value, BaseEstimator):
        return _encode_estimator(value, where, arrays)
    raise TypeError(
        f"Cannot save {where}: objects of type {type(value).__qualname__} have no "
        "data-only representation. Use pickle or joblib for trusted files instead."
    )


def _encode_array(array, where, arrays):
    if array.dtype.kind in "biuf":
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(array)
        return {"__ndarray__": key}
    if array.dtype.kind in "UO":
        items = [_encode(v, f"{where}[{i}]", arrays) for i, v in enumerate(array.ravel().tolist())]
        return {"__ndarray_items__": items, "kind": array.dtype.kind, "shape": list(array.shape)}
    raise TypeError(f"Cannot save {where}: arrays of dtype {array.dtype} are not supported.")


def _encode_estimator(estimator, where, arrays):
    cls = type(estimator)
    params = estimator.get_params(deep=False)
    state = {k: v for k, v in vars(estimator).items() if k not in params}
    # sklstm's estimators and application models take skorch callbacks.
    if cls.__module__.startswith("sklstm."):
        if params.get("callbacks"):
            warnings.warn(
                f"{where}: callbacks are training-time objects and are not saved; the "
                "loaded model has callbacks=None.",
                UserWarning,
            )
            params["callbacks"] = None
    net = state.pop("net_", None)
    encoded_state = _encode(state, f"{where}.state", arrays)
    if isinstance(estimator, _BaseLSTM) and net is not None:
        module = _distributed.unwrap(net.module_)  # mid-fit, it may be wrapped for DDP
        weights = _encode(module.state_dict(), f"{where}.module_", arrays)
        encoded_state["__dict__"].append(["net_", {"__module_state__": weights}])
    return {
        "__estimator__": f"{cls.__module__}.{cls.__qualname__}",
        "params": _encode(params, f"{where}.params", arrays),
        "state": encoded_state,
    }


# -- decoding -------------------------------------------------------------------


def _decode(node, arrays, path):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, path) for v in node]
    if not isinstance(node, dict) or len(node) == 0:
        raise ModelFileError(f"{path}: unexpected entry {node!r:.80} in the manifest.")
    if "__tuple__" in node:
        return tuple(_decode(v, arrays, path) for v in node["__tuple__"])
    if "__dict__" in node:
        return {_decode(k, arrays, path): _decode(v, arrays, path) for k, v in node["__dict__"]}
    if "__float__" in node:
        return float(node["__float__"])
    if "__ndarray__" in node:
        try:
            return arrays[node["__ndarray__"]]
        except (KeyError, TypeError):
            raise ModelFileError(f"{path}: array {node['__ndarray__']!r} is missing.") from None
    if "__ndarray_items__" in node:
        items = [_decode(v, arrays, path) for v in node["__ndarray_items__"]]
        dtype = object if node.get("kind") == "O" else None
        return np.array(items, dtype=dtype).reshape(node["shape"])
    if "__tensor__" in node:
        return torch.from_numpy(np.array(_decode(node["__tensor__"], arrays, path)))
    if "__random_state__" in node:
        random_state = np.random.RandomState()
        random_state.set_state(_decode(node["__random_state__"], arrays, path))
        return random_state
    if "__estimator__" in node:
        return _decode_estimator(node, arrays, path)
    if "__module_state__" in node:
        weights = _decode(node["__module_state__"], arrays, path)
        if not isinstance(weights, dict):
            raise ModelFileError(f"{path}: malformed network weights.")
        return _ModuleState(weights)
    raise ModelFileError(f"{path}: unknown entry {sorted(node)[:3]} in the manifest.")


def _trusted_class(name, path):
    module_name, _, qualname = str(name).rpartition(".")
    if module_name.split(".")[0] not in _TRUSTED_PACKAGES:
        raise ModelFileError(
            f"{path} refers to class {name!r}; model files may only use classes from "
            f"{', '.join(_TRUSTED_PACKAGES)}."
        )
    try:
        cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError):
        raise ModelFileError(f"{path} refers to unknown class {name!r}.") from None
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise ModelFileError(f"{path} refers to {name!r}, which is not an estimator.")
    return cls


def _decode_estimator(node, arrays, path):
    cls = _trusted_class(node["__estimator__"], path)
    params = _decode(node.get("params", {"__dict__": []}), arrays, path)
    state = _decode(node.get("state", {"__dict__": []}), arrays, path)
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ModelFileError(f"{path}: estimator {cls.__name__} is malformed.")
    # A file written before a parameter existed means its former behaviour.
    params = {**getattr(cls, "_PARAMS_BEFORE_0_2", {}), **params}
    params = _known_params(cls, params, path)
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ModelFileError(f"{path}: cannot rebuild {cls.__name__}: {exc}") from None
    weights = state.pop("net_", None)
    for name, value in state.items():
        if not isinstance(name, str) or name.startswith("__"):
            raise ModelFileError(f"{path}: invalid attribute name {name!r}.")
        setattr(estimator, name, value)
    if weights is not None:
        if not (isinstance(estimator, _BaseLSTM) and isinstance(weights, _ModuleState)):
            raise ModelFileError(f"{path}: malformed network of a {cls.__name__}.")
        _restore_network(estimator, weights, path)
    return estimator


def _known_params(cls, params, path):
    """``params`` without those a scikit-learn class of this version no longer takes.

    scikit-learn adds and removes parameters from one release to the next (e.g.
    ``LogisticRegression(multi_class=...)``, gone in 1.8): a file written with
    another version would otherwise not load at all. A removed parameter only
    mattered in ``fit``, or its behaviour became the only one, so the fitted
    estimator predicts as saved. sklstm's own classes keep the strict check.
    """
    if not cls.__module__.startswith("sklearn."):
        return params
    known = cls._get_param_names()
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        warnings.warn(
            f"{path}: {cls.__name__} of this scikit-learn version has no parameter(s) "
            f"{', '.join(unknown)}, which the file sets (written with another version); "
            "they are ignored.",
            UserWarning,
            stacklevel=4,
        )
    return {k: v for k, v in params.items() if k in known}


def _restore_network(estimator, weights, path):
    device = estimator.device
    if "cuda" in str(device) and not torch.cuda.is_available():
        warnings.warn(
            f"{path}: the model was configured for device {device!r}, which is not "
            "available here; it is loaded on the CPU.",
            UserWarning,
        )
        device = "cpu"
    net = estimator._build_net(
        estimator._n_step_features, batch_size=1, device=device, optimizer=False
    )
    try:
        net.module_.load_state_dict(
            {name: torch.as_tensor(value) for name, value in weights.items()}
        )
    except (RuntimeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the network weights do not fit: {exc}") from None
    estimator.net_ = net
