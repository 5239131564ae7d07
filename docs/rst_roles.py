"""A Griffe extension for the docs site: the package's docstrings use a few reStructuredText
forms (as torch's do) that Markdown does not read; this rewrites them as the page is built.

``:class:`~a.B``` (and ``:func:``, ``:meth:``, ...) → ```B```; ``:math:`x``` → ``$x$``;
a ``.. math::`` block → ``$$ … $$`` (rendered by MathJax, ``pymdownx.arithmatex``); the note's
``g[2](Z2)`` is kept from reading as a Markdown link.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc):`~?([^`]+)`")
MATH = re.compile(r":math:`([^`]+)`")
NOT_A_LINK = re.compile(r"(\[\d\])\(")  # g[2](Z2): the note's superscript, then a call
MATH_BLOCK = re.compile(r"^( *)\.\. math::\n\n((?:\1 +\S.*\n|\n)+)", re.M)


def _role(match: re.Match) -> str:
    name = match.group(1)
    return f"`{name.rsplit('.', 1)[-1] if match.group(0).count('~') else name}`"


def _block(match: re.Match) -> str:
    indent, body = match.group(1), match.group(2).rstrip("\n")
    lines = [line.strip() for line in body.splitlines()]
    return f"{indent}$$\n" + "".join(f"{indent}{line}\n" for line in lines if line) + f"{indent}$$\n\n"


def rewrite(text: str) -> str:
    """The docstring ``text`` with its reStructuredText roles and math in Markdown."""
    text = MATH_BLOCK.sub(_block, text if text.endswith("\n") else text + "\n")
    return NOT_A_LINK.sub(r"\1&#40;", ROLE.sub(_role, MATH.sub(r"$\1$", text)))


class RSTRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value).rstrip("\n")
