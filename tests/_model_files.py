"""Model files as an older version wrote them: without the entries added since."""

import io
import json
import zipfile


def _strip(node, names):
    """Remove the entries called ``names`` from every encoded dict of a manifest."""
    if isinstance(node, dict):
        if "__dict__" in node:
            node["__dict__"] = [kv for kv in node["__dict__"] if kv[0] not in names]
        for value in node.values():
            _strip(value, names)
    elif isinstance(node, list):
        for value in node:
            _strip(value, names)


def rewrite_without(path, names):
    """Rewrite the model file at ``path`` with no parameter or attribute called ``names``."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        arrays = archive.read("arrays.safetensors")
    _strip(manifest, set(names))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("arrays.safetensors", arrays)
    path.write_bytes(buffer.getvalue())
