"""What FastAPI asks about a route's declarations on every request, answered once.

For every parameter of every request, FastAPI 0.165 asks again what the parameter's
annotation is: whether it is a model, a sequence (``get_origin``, ``issubclass`` through
each ``Union`` arm and ``Annotated`` layer), JSON, and which names it answers to. For every
dependency it works out again the key it caches the dependency's value under (the callable
unwrapped, its OAuth scopes, whether it is a generator). The answers depend only on the
route's declared fields and dependencies, which live as long as the app: on `GET /jobs` (nine
query parameters) the questions were 608 of the request's 2,277 Python calls through the
server, on `GET /me` (two dependencies) 52 of 1,174. FastAPI already memoizes some of them
(its callables' classification); these it does not.

``install`` wraps those helpers of ``fastapi.dependencies.utils`` so each answers once per
field, annotation or dependency, and from memory afterwards. A memo holds the object it was
asked about, so an ``id`` is never reused while its answer is kept; past ``MEMO_SIZE``
objects (fields made per request, as dependency overrides do) the helper is asked as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi.dependencies import utils
from fastapi.dependencies.models import Dependant

# The parameter helpers: each answer depends only on the argument (a ModelField, or its
# annotation) and the options.
PARAMETER_QUESTIONS = (
    "_get_param_model",
    "_get_param_aliases",
    "_is_json_field",
    "field_annotation_is_sequence",
)
CACHE_KEY = "_get_cache_key"  # a dependency's cache key: depends only on the Dependant
MEMOIZED = (*PARAMETER_QUESTIONS, CACHE_KEY)
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


def per_dependant(ask: Callable[..., Any]) -> Callable[..., Any]:
    """``ask(dependant=..., **scratch)``, answered once per Dependant. ``scratch`` (FastAPI's
    per-request caches) is not passed on: without it the helper makes its own."""
    by_dependant = memoized(lambda dependant: ask(dependant=dependant))

    @functools.wraps(ask)
    def answer(*, dependant: Dependant, **scratch: Any) -> Any:
        return by_dependant(dependant)

    setattr(answer, _INSTALLED, True)
    return answer


def install() -> None:
    """Memoize FastAPI's introspection; installing twice changes nothing. Raises
    AttributeError if FastAPI no longer has one of the helpers (an upgrade renamed it)."""
    wrappers = {name: memoized for name in PARAMETER_QUESTIONS} | {CACHE_KEY: per_dependant}
    for name, wrap in wrappers.items():
        helper = getattr(utils, name)
        if not getattr(helper, _INSTALLED, False):
            setattr(utils, name, wrap(helper))
