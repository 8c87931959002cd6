"""FastAPI's reading of query, header and cookie parameters, with its introspection done once.

For every parameter of every request, FastAPI 0.165 asks again what the parameter's
annotation is: whether it is a model, a sequence (``get_origin``, ``issubclass`` through
each ``Union`` arm and ``Annotated`` layer), JSON, and which names it answers to. The answers
depend only on the route's declared fields, which live as long as the app. On `GET /jobs`
(nine query parameters) that was 600 of the request's 2,277 Python calls through the
server; FastAPI already memoizes the same kind of question about dependencies' callables.

``install`` wraps those four helpers of ``fastapi.dependencies.utils`` so each answers once
per field (or annotation) and from memory afterwards. A memo holds the object it was asked
about, so an ``id`` is never reused while its answer is kept; past ``MEMO_SIZE`` objects
(fields made per request, as dependency overrides do) the helper is asked as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi.dependencies import utils

# The helpers whose answers depend only on their argument (a route's ModelField, or its annotation).
MEMOIZED = ("_get_param_model", "_get_param_aliases", "_is_json_field", "field_annotation_is_sequence")
MEMO_SIZE = 4_096  # FastAPI's own bound for its callables' classification
_INSTALLED = "__ftw_memoized__"


def memoized(ask: Callable[..., Any]) -> Callable[..., Any]:
    """``ask(subject, **options)``, answered once per subject object and options."""
    answers: dict[tuple[Any, ...], tuple[object, Any]] = {}

    @functools.wraps(ask)
    def answer(subject: object, **options: Any) -> Any:
        key = (id(subject), *options.items())
        known = answers.get(key)
        if known is not None:
            return known[1]
        found = ask(subject, **options)
        if len(answers) < MEMO_SIZE:
            answers[key] = (subject, found)  # the subject kept alive: its id stays its own
        return found

    setattr(answer, _INSTALLED, True)
    return answer


def install() -> None:
    """Memoize FastAPI's parameter introspection; installing twice changes nothing. Raises
    AttributeError if FastAPI no longer has one of the helpers (an upgrade renamed it)."""
    for name in MEMOIZED:
        helper = getattr(utils, name)
        if not getattr(helper, _INSTALLED, False):
            setattr(utils, name, memoized(helper))
