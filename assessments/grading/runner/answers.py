"""Sent by the runner into the candidate's kernel after the last cell: answer variables as plain JSON.

Not imported anywhere: the runner reads this file as text and executes it in the kernel, in the
candidate's namespace, followed by a call naming the variables and an unguessable output path.
Anything the candidate monkeypatched can only change how their own answers are described.

With ``call_path`` (a JSON file holding one hidden call of a function part, ``{"args", "kwargs"}``,
see runner/collect.py) the one name is a function: it is called once with that argument set, and
its result goes through the same ``plain`` as the answers. The output is then one JSON line: ``{"function": "undefined"|"not-callable"}`` when the name
is not a function, else the call's entry. No timer is set here: the supervisor gives each call its
own command and deadline and interrupts it from outside (kernel.py), where the notebook cannot
switch the limit off; an interrupt simply propagates.
"""


def __assess_collect(names, path, max_items, max_chars, max_depth, max_bytes, call_path=None):
    """Write {name: {"state": ok|undefined|unusable, "value"|"reason": ...}} as JSON to path (see above for a call)."""
    import json as _json
    import sys as _sys

    _np = _sys.modules.get("numpy")
    _pd = _sys.modules.get("pandas")
    namespace = globals()

    def key(k):
        if _np is not None and isinstance(k, _np.generic):
            k = k.item()
        if isinstance(k, (str, int, float, bool)) or k is None:
            return str.__str__(k) if isinstance(k, str) else repr(k) if isinstance(k, float) else str(k)
        raise ValueError("a dict whose keys are not text or numbers")

    def plain(v, depth):
        if depth > max_depth:
            raise ValueError("a value nested too deeply")
        if v is None:
            return None
        if isinstance(v, bool):
            return bool.__bool__(v) if type(v) is bool else bool(int.__int__(v))
        if isinstance(v, int):
            return int.__int__(v)
        if isinstance(v, float):
            return float.__float__(v)
        if isinstance(v, str):
            if len(v) > max_chars:
                raise ValueError("a text longer than %d characters" % max_chars)
            return str.__str__(v)
        if _np is not None:
            if isinstance(v, _np.generic):
                return plain(v.item(), depth)
            if isinstance(v, _np.ndarray):
                if v.size > max_items:
                    raise ValueError("an array of more than %d items" % max_items)
                return plain(v.tolist(), depth)
        if _pd is not None:
            if isinstance(v, _pd.DataFrame):
                raise ValueError("a DataFrame; assign the number, list or dict the question asks for")
            if isinstance(v, _pd.Series):
                if len(v) > max_items:
                    raise ValueError("a Series of more than %d items" % max_items)
                if isinstance(v.index, _pd.RangeIndex):
                    return plain(v.tolist(), depth)
                return plain({key(k): x for k, x in v.items()}, depth)
            if isinstance(v, _pd.Index):
                return plain(list(v), depth)
        if isinstance(v, dict):
            if len(v) > max_items:
                raise ValueError("a dict of more than %d entries" % max_items)
            return {key(k): plain(x, depth + 1) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            if len(v) > max_items:
                raise ValueError("a list of more than %d items" % max_items)
            return [plain(x, depth + 1) for x in v]
        if isinstance(v, (set, frozenset)):
            if len(v) > max_items:
                raise ValueError("a set of more than %d items" % max_items)
            return sorted((plain(x, depth + 1) for x in v), key=repr)
        raise ValueError("a value of type %s" % type(v).__name__)

    def call_once(name):
        with open(call_path, encoding="utf-8") as handle:
            call = _json.load(handle)
        try:
            result = namespace[name](*call.get("args", []), **call.get("kwargs", {}))
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            return {"state": "error", "reason": type(error).__name__}
        try:
            value = plain(result, 0)
            if len(_json.dumps(value, allow_nan=True)) > max_bytes:
                raise ValueError("a value larger than %d bytes as JSON" % max_bytes)
            return {"state": "ok", "value": value}
        except Exception as error:
            return {"state": "unusable", "reason": str(error)[:200]}

    if call_path is not None:
        name = names[0]
        if name not in namespace:
            entry = {"function": "undefined"}
        elif not callable(namespace[name]):
            entry = {"function": "not-callable"}
        else:
            entry = call_once(name)
        with open(path, "w") as out:
            out.write(_json.dumps(entry, allow_nan=True) + "\n")
        return
    answers = {}
    for name in names:
        if name not in namespace:
            answers[name] = {"state": "undefined"}
            continue
        try:
            value = plain(namespace[name], 0)
            text = _json.dumps(value, allow_nan=True)
            if len(text) > max_bytes:
                raise ValueError("a value larger than %d bytes as JSON" % max_bytes)
            answers[name] = {"state": "ok", "value": value}
        except Exception as error:
            answers[name] = {"state": "unusable", "reason": str(error)[:200]}
    with open(path, "w") as handle:
        _json.dump(answers, handle, allow_nan=True)
