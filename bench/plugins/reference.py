"""A short API reference for plugin authors, generated from the code's docstrings and comments.

`bench reference` writes it (docs/reference.md is that output, kept current by a test), so what a
method receives (``Part``, ``Schema``, ``FitContext``) is documented where it is defined and the
reference can never drift from it. For each class: its docstring, its public attributes with the
comment on their line (dataclass fields, card attributes, attributes set in ``__init__``), and its
public methods with their signature and the first paragraph of their docstring.
"""
from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize
from typing import Any, Iterable


def _first_paragraph(doc: str | None) -> str:
    text = inspect.cleandoc(doc or "")
    return " ".join(text.split("\n\n")[0].split())


def _line_comments(source: str) -> dict[int, str]:
    """{line number: the comment at its end} of ``source``."""
    out: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _attributes(cls: type) -> list[tuple[str, str, str]]:
    """(name, annotation or value, comment) of the public attributes the class body and its
    ``__init__`` define, in source order."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return []
    comments = _line_comments(source)
    lines = source.splitlines()

    def comment_for(node: ast.stmt) -> str:
        """The comment at the end of the line, else the comment lines right above it."""
        if node.lineno in comments:
            return comments[node.lineno]
        above, i = [], node.lineno - 1
        while i >= 1 and lines[i - 1].strip().startswith("#"):
            above.insert(0, comments.get(i, ""))
            i -= 1
        return " ".join(above)
    body = ast.parse(source).body[0].body
    out: list[tuple[str, str, str]] = []

    def add(target: ast.expr, shown: str, node: ast.stmt) -> None:
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name and not name.startswith("_") and name not in {n for n, _, _ in out}:
            out.append((name, shown, comment_for(node)))

    for node in body:
        if isinstance(node, ast.AnnAssign):
            add(node.target, ast.unparse(node.annotation), node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            value = ast.unparse(node.value)
            add(node.targets[0], value if len(value) <= 40 else value[:37] + "...", node)
        elif isinstance(node, ast.FunctionDef) and node.name == "__init__":
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Assign, ast.AnnAssign)):
                    targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                    for t in targets:
                        if isinstance(t, ast.Attribute) and getattr(t.value, "id", "") == "self":
                            add(t, "", sub)
    return out


class _Shown(str):
    """An annotation kept as text (``from __future__ import annotations``): shown without quotes."""

    def __repr__(self) -> str:
        return self.strip("'\"")


def signature(fn: Any) -> str:
    sig = inspect.signature(fn)
    params = [p.replace(annotation=_Shown(p.annotation)) if isinstance(p.annotation, str) else p
              for p in sig.parameters.values()]
    ret = sig.return_annotation
    return str(sig.replace(parameters=params,
                           return_annotation=_Shown(ret) if isinstance(ret, str) else ret))


def _methods(cls: type) -> list[tuple[str, str, str]]:
    out = []
    for name, member in cls.__dict__.items():
        if name.startswith("_"):
            continue
        fn = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if inspect.isfunction(fn):
            out.append((name, signature(fn), _first_paragraph(fn.__doc__)))
    return out


def describe_class(cls: type, title: str = "") -> str:
    lines = [f"### `{title or cls.__name__}`", "", inspect.cleandoc(cls.__doc__ or "").strip(), ""]
    attrs = _attributes(cls)
    if attrs:
        lines += ["| attribute | type or default | what it is |", "|---|---|---|"]
        lines += [f"| `{n}` | `{shown}` | {c} |".replace("`` ", "").replace("| `` |", "|  |") for n, shown, c in attrs]
        lines.append("")
    for name, sig, doc in _methods(cls):
        lines.append(f"- `{name}{sig}`" + (f": {doc}" if doc else ""))
    return "\n".join(lines).rstrip() + "\n"


def describe_function(fn: Any, title: str = "") -> str:
    sig = signature(fn)
    return f"### `{title or fn.__name__}{sig}`\n\n{inspect.cleandoc(fn.__doc__ or '').strip()}\n"


def reference(sections: Iterable[tuple[str, str, list[tuple[str, Any]]]], intro: str = "") -> str:
    """Markdown for ``[(heading, text, [(title, class or function), ...]), ...]``."""
    out = ["# bench reference for plugin authors", "",
           "Generated by `bench reference` from the docstrings and comments of the code it names; "
           "do not edit (a test compares this file with the command's output).", ""]
    if intro:
        out += [intro, ""]
    for heading, text, items in sections:
        out += [f"## {heading}", ""] + ([text, ""] if text else [])
        for title, obj in items:
            out.append(describe_class(obj, title) if inspect.isclass(obj) else describe_function(obj, title))
    return "\n".join(out).rstrip() + "\n"
