"""One UDF call of a Fused emulator job: ``python runner.py CALL.json OUTDIR``.

Run as a plain script (no jobrelay import). A minimal stand-in for the ``fused`` module
gives the UDF's source its ``@fused.udf`` decorator; no geospatial stack. The return value
is written to ``OUTDIR/<index>.<ext>`` (``bytes`` → ``.bin``, ``str`` → ``.txt``, anything
else as JSON → ``.json``) with a ``.metadata`` sidecar: the fields the SDK's
``get_results()`` reads (the call's ``stdout``, ``stderr``, ``errormsg``, ``lineno``,
``has_exception``, ``exception_class``, ``error_type``) plus ``type`` and ``size``; ``None``
writes nothing.
"""

import io
import json
import sys
import types
from pathlib import Path
from typing import Any


def udf(fn: Any = None, **_options: Any) -> Any:
    """``@fused.udf`` and ``@fused.udf(...)``: the function itself."""
    return fn if fn is not None else (lambda inner: inner)


class Tee:
    """The UDF's stdout: what it prints goes to the log and is kept for the sidecar."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.kept = io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, buffer …
        return getattr(self.stream, name)


def main() -> None:
    call = json.loads(Path(sys.argv[1]).read_text())
    outdir = Path(sys.argv[2])
    fused = types.ModuleType("fused")
    fused.udf = udf  # type: ignore[attr-defined]
    sys.modules["fused"] = fused
    namespace: dict[str, Any] = {"__name__": "__fused_udf__", "fused": fused}
    exec(compile(call["code"], "<udf>", "exec"), namespace)
    function = namespace[call["entrypoint"]]
    kwargs = dict(call["parameters"])
    args: list[Any] = []
    value = call["input"]
    if isinstance(value, dict):
        kwargs.update(value)
    elif call["has_input"]:
        args.append(value)
    printed = Tee(sys.stdout)
    sys.stdout = printed
    try:
        result = function(*args, **kwargs)
    finally:
        sys.stdout = printed.stream
    if result is None:
        return
    if isinstance(result, bytes):
        ext, data = "bin", result
    elif isinstance(result, str):
        ext, data = "txt", result.encode()
    else:
        ext, data = "json", json.dumps(result).encode()
    name = f"{call['index']}.{ext}"
    (outdir / name).write_bytes(data)
    sidecar = {
        "type": type(result).__name__,
        "size": len(data),
        "stdout": printed.kept.getvalue(),
        "stderr": "",
        "errormsg": None,
        "lineno": None,
        "has_exception": False,
        "exception_class": None,
        "error_type": None,
    }
    (outdir / f"{name}.metadata").write_text(json.dumps(sidecar))


if __name__ == "__main__":
    main()
