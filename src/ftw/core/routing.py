"""Plain reads answered by a handler planned once from the route's own declaration.

For every request FastAPI's handler walks the route's dependency tree again: it asks each
dependency and parameter what it is, keys a per-request cache, opens two exit stacks for
generator dependencies, looks each query parameter up through its aliases and copies its
default. For a read whose dependencies are ``async def f(request)`` and whose parameters
are scalars in the path or the query, all of that is known when the route is declared.
``LeanRoute`` plans it then: each request calls the dependencies in order, validates each
parameter with FastAPI's own field, and serialises the answer with FastAPI's own
``serialize_response``. The route is declared, documented and guarded as any other; only
the per-request walk is gone (about a sixth of a hot read's CPU in process).

The plan keeps FastAPI's order and outcomes: dependencies first (one that raises answers
the request; one whose own parameters are invalid is not called), then path and query
parameters; every invalid parameter is reported in one ``RequestValidationError``; a
dependency used twice is called once. A route the plan cannot hold exactly (a body,
headers, cookies, a ``yield`` dependency, nested dependencies, a parameter model or list,
a streamed answer, a custom response class) keeps FastAPI's handler, as does every route
while dependency overrides are set. ``tests/core/test_routing.py`` sends the same requests
through both handlers and compares the answers.
"""

from __future__ import annotations

import inspect
from copy import deepcopy
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fastapi import params
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi._compat.v2 import get_missing_field_error
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies import utils
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import EndpointContext, RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# Defaults FastAPI's deepcopy would hand back unchanged: no copy per request.
IMMUTABLE = (type(None), bool, int, float, str, bytes, Enum, frozenset, tuple)


@dataclass(frozen=True, slots=True)
class _Param:
    """One path or query parameter, as FastAPI reads it."""

    field: ModelField
    name: str
    alias: str
    in_path: bool
    loc: tuple[str, str]  # where FastAPI reports an error: ("query", "limit")
    required: bool
    default: Any
    copy_default: bool
    validate_default: bool


@dataclass(frozen=True, slots=True)
class _Dependency:
    """A dependency planned as ``await call(request=..., **its parameters)``."""

    call: Any
    name: str | None
    request_name: str | None
    params: tuple[_Param, ...]


def _plain_param(field: ModelField, *, in_path: bool) -> _Param | None:
    """The parameter planned, or None when FastAPI reads it in a way the plan does not hold."""
    info = field.field_info
    if (
        not isinstance(info, params.Path | params.Query)
        or utils._get_param_model(field) is not None
        or utils._is_json_field(field)
        or field_annotation_is_sequence(info.annotation)
    ):
        return None
    aliases = utils._get_param_aliases(field)
    if len(aliases) != 1:
        return None
    default = field.default
    alias = aliases[0][1]
    return _Param(
        field=field,
        name=field.name,
        alias=alias,
        in_path=in_path,
        loc=("path" if in_path else "query", alias),
        required=info.is_required(),
        default=default,
        copy_default=not isinstance(default, IMMUTABLE),
        validate_default=bool(info.validate_default),
    )


def _plain_params(dependant: Dependant) -> tuple[_Param, ...] | None:
    if dependant.header_params or dependant.cookie_params or dependant.body_params:
        return None
    planned = [_plain_param(f, in_path=True) for f in dependant.path_params]
    planned += [_plain_param(f, in_path=False) for f in dependant.query_params]
    return None if None in planned else tuple(p for p in planned if p is not None)


def _special(dependant: Dependant) -> bool:
    """Whether it asks for more than the request (a response, background tasks, ...)."""
    return any(
        (
            dependant.websocket_param_name,
            dependant.http_connection_param_name,
            dependant.response_param_name,
            dependant.background_tasks_param_name,
            dependant.security_scopes_param_name,
            dependant.own_oauth_scopes,
        )
    )


def _plain_dependency(dependant: Dependant) -> _Dependency | None:
    call = dependant.call
    own = _plain_params(dependant)
    if (
        own is None
        or dependant.dependencies
        or _special(dependant)
        or not dependant.use_cache
        or not inspect.iscoroutinefunction(call)  # a plain def runs in a thread; a generator yields
    ):
        return None
    return _Dependency(call=call, name=dependant.name, request_name=dependant.request_param_name, params=own)


class LeanRoute(APIRoute):
    """An API route whose plain reads skip FastAPI's per-request walk (module docstring)."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.lean = self._plan()
        if self.lean:
            self.fastapi_app = self.app
            self.app = self._lean_app

    def _plan(self) -> bool:
        dependant = self.dependant
        own = _plain_params(dependant)
        dependencies = [_plain_dependency(d) for d in dependant.dependencies]
        if (
            self.methods != {"GET"}
            or own is None
            or None in dependencies
            or _special(dependant)
            or self.body_field is not None
            or self.response_field is None
            or not isinstance(self.response_class, DefaultPlaceholder)
            or self.stream_item_field is not None
            or self.is_json_stream
            or not inspect.iscoroutinefunction(dependant.call)
        ):
            return False
        self._params = own
        self._dependencies = tuple(d for d in dependencies if d is not None)
        self._call = dependant.call
        self._request_name = dependant.request_param_name
        self._context = EndpointContext(
            function=getattr(self.endpoint, "__name__", ""), path=f"GET {self.path}"
        )
        return True

    async def _lean_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = self.dependency_overrides_provider
        if provider is not None and getattr(provider, "dependency_overrides", None):
            await self.fastapi_app(scope, receive, send)
            return
        request = Request(scope, receive, send)

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            response = await self._respond(request)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(answer, request)(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        solved: dict[Any, Any] = {}
        for dependency in self._dependencies:
            arguments: dict[str, Any] = {}
            failed = _read(dependency.params, request, arguments)
            if failed:
                errors.extend(failed)
                continue
            if dependency.call in solved:
                value = solved[dependency.call]
            else:
                if dependency.request_name is not None:
                    arguments[dependency.request_name] = request
                value = solved[dependency.call] = await dependency.call(**arguments)
            if dependency.name is not None:
                values[dependency.name] = value
        errors.extend(_read(self._params, request, values))
        if errors:
            raise RequestValidationError(errors, body=None, endpoint_ctx=self._context)
        if self._request_name is not None:
            values[self._request_name] = request
        raw = await self._call(**values)
        if isinstance(raw, Response):
            return raw
        content = await serialize_response(
            field=self.response_field,
            response_content=raw,
            include=self.response_model_include,
            exclude=self.response_model_exclude,
            by_alias=self.response_model_by_alias,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
            endpoint_ctx=self._context,
            dump_json=True,
        )
        return Response(content, status_code=self.status_code or 200, media_type="application/json")


def _read(planned: tuple[_Param, ...], request: Request, values: dict[str, Any]) -> list[Any]:
    """Each parameter validated into ``values``; the errors, as FastAPI reports them."""
    errors: list[Any] = []
    for param in planned:
        raw = (request.path_params if param.in_path else request.query_params).get(param.alias)
        if raw is None:
            if param.required:
                errors.append(get_missing_field_error(loc=param.loc))
                continue
            raw = deepcopy(param.default) if param.copy_default else param.default
            if not param.validate_default:
                values[param.name] = raw
                continue
        value, failed = param.field.validate(raw, values, loc=param.loc)
        if failed:
            errors.extend(failed)
        else:
            values[param.name] = value
    return errors
