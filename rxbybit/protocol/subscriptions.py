"""The subscription state machine of one socket: what observers want against what Bybit has.

Sans-I/O, like the rest of :mod:`rxbybit.protocol`: a :class:`Subscriptions` object is driven by
plain calls (``want``, ``drop``, ``connected``, ``disconnected``, ``on_ack``, ``on_failure``) and
answers with a :class:`Step`: the frames to send and the topics that were confirmed or rejected.
The connection that owns the socket only sends those frames.

Each topic is in one of four exchange states on the current socket::

    IDLE --subscribe sent--> SUBSCRIBING --ack--> SUBSCRIBED --unsubscribe sent--> UNSUBSCRIBING --ack--> IDLE

and independently *wanted* or not. After every input the machine *reconciles*: a wanted idle topic
is subscribed, an unwanted subscribed topic is unsubscribed, and a topic with a request in flight
waits for its answer first. So whatever the order of observe, dispose, ack, failure and reconnect,
once every request is answered the exchange's subscriptions are exactly the wanted topics, and a
topic re-wanted while its unsubscribe was in flight is subscribed afresh (a fresh snapshot).

Bybit's rules that shape the frames live here too: requests are split to the socket's limits
(:mod:`.limits`), an all-in-one private topic never shares a request with its categorised ones
(:func:`.topics.may_share_request`), acks are matched by ``req_id`` or, for replies without one,
to the oldest request of the same op, and one bad topic sinks a batch: the rest is sent again.

The option socket answers with per-topic ``COMMAND_RESP`` frames that carry no ``req_id`` and, for a
subscribe, no ``op`` (observed; whether an unsubscribe answer names its op is unconfirmed, so both
shapes are handled). A reply that names its op settles the oldest request of that op holding the
topic. A reply that names none (its ``op`` is ``""``) answers the topic's oldest pending request,
*whatever its op*: a socket answers its requests in order, so that is the request it answers, and an
op-less unsubscribe answer is never taken for a subscribe answer (which left the unsubscribe pending
for good). As for every answer, it changes the topic's state only if it answers the topic's latest
request; an older one is superseded. (Taking the *latest* request instead would let the failure of
an older subscribe reject a newer one that then succeeds, leaving a topic held that nobody wants.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from .endpoints import Endpoint, takes_subscriptions
from .events import SubscribeAck, SubscribeFailure
from .limits import args_per_request, connection_refusal
from .requests import chunks
from .requests import subscribe as subscribe_frame
from .topics import may_share_request


class SubState(Enum):
    """Where a topic stands on the exchange, on the current socket."""

    IDLE = "idle"
    SUBSCRIBING = "subscribing"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBING = "unsubscribing"


@dataclass(frozen=True, slots=True)
class Request:
    """A subscribe or unsubscribe request in flight."""

    req_id: str
    op: str
    topics: tuple[str, ...]
    frame: str


@dataclass
class Step:
    """What one input produced: frames to send (in order) and topics confirmed or rejected."""

    frames: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """``(topic, Bybit's message)`` for each topic the exchange refused (no longer wanted)."""

    def extend(self, other: Step) -> Step:
        """Append ``other``'s results to this step and return it."""
        self.frames.extend(other.frames)
        self.confirmed.extend(other.confirmed)
        self.rejected.extend(other.rejected)
        return self


def _default_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"sub-{next(counter)}"


class Subscriptions:
    """Wanted, pending and confirmed topics of one socket, and the frames that reconcile them."""

    def __init__(self, endpoint: Endpoint, *, next_req_id: Callable[[], str] | None = None) -> None:
        if not takes_subscriptions(endpoint):
            raise ValueError(f"the {endpoint} socket takes no subscriptions")
        self.endpoint: Endpoint = endpoint
        self._next_id = next_req_id or _default_ids()
        self._wanted: dict[str, None] = {}  # ordered set
        self._state: dict[str, tuple[SubState, str]] = {}  # topic -> (state, req_id of its latest request)
        self._requests: dict[str, Request] = {}  # req_id -> request, oldest first
        self._online = False

    # ------------------------------------------------------------------ reading

    @property
    def wanted(self) -> tuple[str, ...]:
        """Topics observers want, in the order they were first asked for."""
        return tuple(self._wanted)

    @property
    def confirmed(self) -> frozenset[str]:
        """Topics Bybit has acknowledged on the current socket (and not asked to drop since)."""
        return frozenset(t for t, (s, _) in self._state.items() if s is SubState.SUBSCRIBED)

    @property
    def pending(self) -> tuple[Request, ...]:
        """Requests sent and not yet answered, oldest first."""
        return tuple(self._requests.values())

    @property
    def online(self) -> bool:
        """True between :meth:`connected` and :meth:`disconnected`."""
        return self._online

    def state(self, topic: str) -> SubState:
        """The exchange state of ``topic`` on the current socket (as far as our last request goes)."""
        entry = self._state.get(topic)
        return SubState.IDLE if entry is None else entry[0]

    def is_settled(self) -> bool:
        """True when nothing is in flight and the exchange holds exactly the wanted topics."""
        return not self._requests and set(self._wanted) == set(self.confirmed)

    # ------------------------------------------------------------------ inputs

    def want(self, topics: Iterable[str]) -> Step:
        """Observers want ``topics`` (already wanted ones are ignored)."""
        for t in topics:
            self._wanted.setdefault(t, None)
        return self._reconcile()

    def drop(self, topics: Iterable[str]) -> Step:
        """Observers no longer want ``topics``."""
        for t in topics:
            self._wanted.pop(t, None)
        return self._reconcile()

    def refresh(self, topics: str | Iterable[str]) -> Step:
        """Unsubscribe and subscribe ``topics`` (one name or several) again for fresh snapshots
        (book resyncs); several topics go in one unsubscribe and one subscribe request.

        Both requests go at once: the socket keeps their order. A topic with a request in flight
        needs nothing: its snapshot is on its way.
        """
        names = [topics] if isinstance(topics, str) else list(dict.fromkeys(topics))
        held = [t for t in names if t in self._wanted and self.state(t) is SubState.SUBSCRIBED]
        if not held:
            return Step()
        return self._send("unsubscribe", held).extend(self._send("subscribe", held))

    def connected(self) -> Step:
        """A new socket is ready (authenticated where needed): subscribe everything wanted."""
        self._online = True
        self._state.clear()
        self._requests.clear()
        return self._reconcile()

    def disconnected(self) -> None:
        """The socket is gone: the exchange holds nothing and no request will be answered."""
        self._online = False
        self._state.clear()
        self._requests.clear()

    def on_ack(self, ack: SubscribeAck) -> Step:
        """A successful (un)subscribe reply, with or without ``req_id``, or an option ``COMMAND_RESP``."""
        step = Step()
        if ack.success_topics or ack.fail_topics:  # option socket: per-topic results
            for t in ack.success_topics:
                self._answer_topic(t, ack.op, step, None)
            for t in ack.fail_topics:
                self._answer_topic(t, ack.op, step, f"subscription failed (failTopics) for {t}")
            return step.extend(self._reconcile())
        request = self._match(ack.req_id, ack.op, None)
        if request is not None:
            for t in request.topics:
                self._settle(t, request, step)
        return step.extend(self._reconcile())

    def on_failure(self, failure: SubscribeFailure) -> Step:
        """A failed (un)subscribe reply. ``already subscribed`` counts as success for its topic.

        One bad topic sinks the whole request: it is rejected, the rest of the batch is sent again.
        A failure that names no topic rejects the whole batch. A refused unsubscribe leaves its
        topics idle (nothing we rely on is held).
        """
        step = Step()
        if not failure.op and not failure.req_id and failure.topic is not None:
            # an option COMMAND_RESP listing only failed topics, naming no op: the topic's oldest request
            request = self._take_oldest(failure.topic)
            if request is None:  # nothing of this topic is pending: a late duplicate
                return step.extend(self._reconcile())
        else:
            request = self._match(failure.req_id, failure.op, failure.topic)
        if request is None:
            if failure.already_subscribed and failure.topic is not None:
                self._settle_topic(failure.topic, "subscribe", None, step)
            return step.extend(self._reconcile())
        bad = failure.topic if failure.topic in request.topics else None
        for t in request.topics:
            if not self._is_latest(t, request):
                continue
            if failure.already_subscribed and t == bad:
                self._settle(t, request, step)
                continue
            del self._state[t]  # back to idle: the reconcile below sends it again if still wanted
            if request.op == "subscribe" and (bad is None or t == bad) and not failure.already_subscribed \
                    and t in self._wanted:
                del self._wanted[t]
                step.rejected.append((t, failure.message))
        return step.extend(self._reconcile())

    # ------------------------------------------------------------------ internals

    def _is_latest(self, topic: str, request: Request) -> bool:
        entry = self._state.get(topic)
        return entry is not None and entry[1] == request.req_id

    def _match(self, req_id: str | None, op: str, topic: str | None) -> Request | None:
        if req_id:
            request = self._requests.pop(req_id, None)
            if request is not None:
                return request
        same_op = [r for r in self._requests.values() if r.op == op]
        if topic is not None:
            same_op = [r for r in same_op if topic in r.topics] or same_op
        if not same_op:
            return None
        return self._requests.pop(same_op[0].req_id)  # replies without req_id: the oldest first

    def _take_oldest(self, topic: str) -> Request | None:
        """Pop the oldest pending request holding ``topic``, whatever its op (None if there is none)."""
        for request in self._requests.values():
            if topic in request.topics:
                return self._requests.pop(request.req_id)
        return None

    def _without(self, request: Request, topic: str) -> None:
        """Take ``topic`` out of pending ``request`` (the request goes once it holds nothing)."""
        rest = tuple(t for t in request.topics if t != topic)
        if rest:
            self._requests[request.req_id] = Request(request.req_id, request.op, rest, request.frame)
        else:
            del self._requests[request.req_id]

    def _answer_topic(self, topic: str, op: str, step: Step, failure: str | None) -> None:
        """One topic of an option ``COMMAND_RESP``: take it out of its request and settle it.

        ``op`` is ``""`` when the reply names none: it then answers the topic's oldest pending
        request, whatever that request's op (see the module doc)."""
        rid = None
        for request in list(self._requests.values()):
            if topic in request.topics and (not op or request.op == op):
                rid, op = request.req_id, request.op
                self._without(request, topic)
                break
        if not op:
            return  # names no op and nothing of this topic is pending: a late duplicate
        if failure is None:
            self._settle_topic(topic, op, rid, step)
            return
        entry = self._state.get(topic)
        if entry is not None and (rid is None or entry[1] == rid):
            del self._state[topic]
            if op == "subscribe" and topic in self._wanted:
                del self._wanted[topic]
                step.rejected.append((topic, failure))

    def _settle(self, topic: str, request: Request, step: Step) -> None:
        self._settle_topic(topic, request.op, request.req_id, step)

    def _settle_topic(self, topic: str, op: str, rid: str | None, step: Step) -> None:
        """An answer for ``topic`` to request ``rid`` (None: unknown request) arrived: apply it if it
        answers the topic's latest request, else a newer request decides."""
        entry = self._state.get(topic)
        if entry is None or (rid is not None and entry[1] != rid):
            return
        if op == "subscribe" and entry[0] is SubState.SUBSCRIBING:
            self._state[topic] = (SubState.SUBSCRIBED, entry[1])
            if topic in self._wanted:
                step.confirmed.append(topic)
        elif op == "unsubscribe" and entry[0] is SubState.UNSUBSCRIBING:
            del self._state[topic]

    def _reconcile(self) -> Step:
        step = Step()
        if not self._online:
            return step
        gone = [t for t, (s, _) in self._state.items()
                if s in (SubState.SUBSCRIBING, SubState.SUBSCRIBED) and t not in self._wanted]
        if gone:
            step.extend(self._send("unsubscribe", gone))
        new = [t for t in self._wanted if self.state(t) in (SubState.IDLE, SubState.UNSUBSCRIBING)]
        if new:
            step.extend(self._subscribe(new))
        return step

    def _subscribe(self, topics: list[str]) -> Step:
        step = Step()
        held = [t for t, (s, _) in self._state.items() if s in (SubState.SUBSCRIBING, SubState.SUBSCRIBED)]
        chars = sum(len(t) for t in held)
        room: list[str] = []
        for t in topics:
            refusal = connection_refusal(self.endpoint, chars + len(t), len(held) + len(room) + 1)
            if refusal is None:
                chars += len(t)
                room.append(t)
            else:
                del self._wanted[t]
                step.rejected.append((t, refusal))
        return step.extend(self._send("subscribe", room))

    def _send(self, op: str, topics: list[str]) -> Step:
        step = Step()
        state = SubState.SUBSCRIBING if op == "subscribe" else SubState.UNSUBSCRIBING
        for batch in self._batches(topics):
            rid = self._next_id()
            frame = subscribe_frame(batch, rid, op=op)
            self._requests[rid] = Request(rid, op, tuple(batch), frame)
            for t in batch:
                self._state[t] = (state, rid)
            step.frames.append(frame)
        return step

    def _batches(self, topics: list[str]) -> list[list[str]]:
        if self.endpoint != "private":
            return chunks(topics, self.endpoint)
        size = args_per_request(self.endpoint)
        batches: list[list[str]] = []
        for t in topics:  # private topics are few: an all-in-one topic never shares with its categorised ones
            for batch in batches:
                if len(batch) < size and all(may_share_request(t, other) for other in batch):
                    batch.append(t)
                    break
            else:
                batches.append([t])
        return batches
