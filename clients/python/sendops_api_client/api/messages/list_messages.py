from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.message_page import MessagePage
from ...models.message_status import MessageStatus
from ...models.problem import Problem
from ...types import UNSET, Unset
from typing import cast
from uuid import UUID
import datetime



def _get_kwargs(
    *,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    channel: UUID | Unset = UNSET,
    status: MessageStatus | Unset = UNSET,
    template: str | Unset = UNSET,
    identity: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match



    

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    json_from_: str | Unset = UNSET
    if not isinstance(from_, Unset):
        json_from_ = from_.isoformat()
    params["from"] = json_from_

    json_to: str | Unset = UNSET
    if not isinstance(to, Unset):
        json_to = to.isoformat()
    params["to"] = json_to

    json_channel: str | Unset = UNSET
    if not isinstance(channel, Unset):
        json_channel = str(channel)
    params["channel"] = json_channel

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["template"] = template

    params["identity"] = identity

    params["recipient"] = recipient


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/messages",
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | MessagePage | Problem | None:
    if response.status_code == 200:
        response_200 = MessagePage.from_dict(response.json())



        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())



        return response_404

    if response.status_code == 405:
        response_405 = Problem.from_dict(response.json())



        return response_405

    if response.status_code == 414:
        response_414 = Problem.from_dict(response.json())



        return response_414

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())



        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())



        return response_429

    if response.status_code == 431:
        response_431 = Problem.from_dict(response.json())



        return response_431

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())



        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | MessagePage | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    channel: UUID | Unset = UNSET,
    status: MessageStatus | Unset = UNSET,
    template: str | Unset = UNSET,
    identity: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,

) -> Response[Any | MessagePage | Problem]:
    """ Messages, newest first by `sent_at`, one cursor page at a time.

    Args:
        limit (int | Unset):
        cursor (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        channel (UUID | Unset):
        status (MessageStatus | Unset): A message status: the type of its latest lifecycle event
            (docs/semantics.md#messages).
        template (str | Unset):
        identity (str | Unset):
        recipient (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | MessagePage | Problem]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
from_=from_,
to=to,
channel=channel,
status=status,
template=template,
identity=identity,
recipient=recipient,
if_none_match=if_none_match,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    channel: UUID | Unset = UNSET,
    status: MessageStatus | Unset = UNSET,
    template: str | Unset = UNSET,
    identity: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,

) -> Any | MessagePage | Problem | None:
    """ Messages, newest first by `sent_at`, one cursor page at a time.

    Args:
        limit (int | Unset):
        cursor (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        channel (UUID | Unset):
        status (MessageStatus | Unset): A message status: the type of its latest lifecycle event
            (docs/semantics.md#messages).
        template (str | Unset):
        identity (str | Unset):
        recipient (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | MessagePage | Problem
     """


    return sync_detailed(
        client=client,
limit=limit,
cursor=cursor,
from_=from_,
to=to,
channel=channel,
status=status,
template=template,
identity=identity,
recipient=recipient,
if_none_match=if_none_match,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    channel: UUID | Unset = UNSET,
    status: MessageStatus | Unset = UNSET,
    template: str | Unset = UNSET,
    identity: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,

) -> Response[Any | MessagePage | Problem]:
    """ Messages, newest first by `sent_at`, one cursor page at a time.

    Args:
        limit (int | Unset):
        cursor (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        channel (UUID | Unset):
        status (MessageStatus | Unset): A message status: the type of its latest lifecycle event
            (docs/semantics.md#messages).
        template (str | Unset):
        identity (str | Unset):
        recipient (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | MessagePage | Problem]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
from_=from_,
to=to,
channel=channel,
status=status,
template=template,
identity=identity,
recipient=recipient,
if_none_match=if_none_match,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    from_: datetime.datetime | Unset = UNSET,
    to: datetime.datetime | Unset = UNSET,
    channel: UUID | Unset = UNSET,
    status: MessageStatus | Unset = UNSET,
    template: str | Unset = UNSET,
    identity: str | Unset = UNSET,
    recipient: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,

) -> Any | MessagePage | Problem | None:
    """ Messages, newest first by `sent_at`, one cursor page at a time.

    Args:
        limit (int | Unset):
        cursor (str | Unset):
        from_ (datetime.datetime | Unset):
        to (datetime.datetime | Unset):
        channel (UUID | Unset):
        status (MessageStatus | Unset): A message status: the type of its latest lifecycle event
            (docs/semantics.md#messages).
        template (str | Unset):
        identity (str | Unset):
        recipient (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | MessagePage | Problem
     """


    return (await asyncio_detailed(
        client=client,
limit=limit,
cursor=cursor,
from_=from_,
to=to,
channel=channel,
status=status,
template=template,
identity=identity,
recipient=recipient,
if_none_match=if_none_match,

    )).parsed
