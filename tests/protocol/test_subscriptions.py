"""The subscription state machine, driven with frames only (no sockets).

Unit tests pin each rule; the property test plays random interleavings of observe, dispose,
refresh, request delivery, reply delivery and reconnects against a model exchange that answers
the way Bybit does, and checks that once everything is answered the exchange holds exactly the
topics still wanted, and that every topic observed again got a snapshot from a subscribe sent
after it was observed again (not a stale subscription that only says "already subscribed").
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rxbybit.protocol import replies
from rxbybit.protocol.decode import decode
from rxbybit.protocol.events import SubscribeAck, SubscribeFailure
from rxbybit.protocol.subscriptions import Step, Subscriptions, SubState


def sent(step: Step) -> list[dict[str, Any]]:
    return [json.loads(f) for f in step.frames]


def ack(frame: dict[str, Any], *, with_id: bool = True) -> SubscribeAck:
    event = decode(json.dumps(replies.command_ack("linear", "c1", frame["op"],
                                                  frame["req_id"] if with_id else replies.MISSING)))
    assert isinstance(event, SubscribeAck)
    return event


def failure(frame: dict[str, Any], message: str, *, with_id: bool = True) -> SubscribeFailure:
    event = decode(json.dumps(replies.command_ack("linear", "c1", frame["op"],
                                                  frame["req_id"] if with_id else replies.MISSING,
                                                  success=False, ret_msg=message)))
    assert isinstance(event, SubscribeFailure)
    return event


def test_nothing_is_sent_before_the_socket_is_up_then_everything_wanted_is() -> None:
    subs = Subscriptions("linear")
    assert subs.want(["tickers.BTCUSDT", "tickers.ETHUSDT"]).frames == []
    frames = sent(subs.connected())
    assert [f["args"] for f in frames] == [["tickers.BTCUSDT", "tickers.ETHUSDT"]]
    step = subs.on_ack(ack(frames[0]))
    assert step.confirmed == ["tickers.BTCUSDT", "tickers.ETHUSDT"]
    assert subs.is_settled()


def test_spot_requests_are_split_to_ten_args() -> None:
    subs = Subscriptions("spot")
    subs.connected()
    frames = sent(subs.want([f"tickers.S{i:02d}USDT" for i in range(23)]))
    assert [len(f["args"]) for f in frames] == [10, 10, 3]


def test_all_in_one_and_categorised_private_topics_never_share_a_request() -> None:
    subs = Subscriptions("private")
    subs.connected()
    frames = sent(subs.want(["order", "order.linear", "execution", "wallet", "position.linear", "position"]))
    for f in frames:
        args = f["args"]
        assert not ({"order", "order.linear"} <= set(args) or {"position", "position.linear"} <= set(args)), args
    assert sorted(a for f in frames for a in f["args"]) == sorted(
        ["order", "order.linear", "execution", "wallet", "position.linear", "position"])


def test_one_bad_topic_sinks_the_batch_and_the_rest_is_sent_again() -> None:
    subs = Subscriptions("linear")
    subs.connected()
    (frame,) = sent(subs.want(["tickers.BTCUSDT", "tickers.NOPEUSDT", "tickers.ETHUSDT"]))
    step = subs.on_failure(failure(frame, replies.handler_not_found("tickers.NOPEUSDT")))
    assert step.rejected == [("tickers.NOPEUSDT", replies.handler_not_found("tickers.NOPEUSDT"))]
    (again,) = sent(step)
    assert again["op"] == "subscribe" and again["args"] == ["tickers.BTCUSDT", "tickers.ETHUSDT"]
    assert "tickers.NOPEUSDT" not in subs.wanted


def test_a_failure_without_req_id_or_topic_matches_the_oldest_request_and_rejects_its_batch() -> None:
    subs = Subscriptions("spot")
    subs.connected()
    first, second = sent(subs.want([f"tickers.S{i:02d}USDT" for i in range(12)]))
    step = subs.on_failure(failure(first, replies.args_size(10), with_id=False))
    assert [t for t, _ in step.rejected] == first["args"]
    assert subs.state(second["args"][0]) is SubState.SUBSCRIBING


def test_acks_without_req_id_confirm_the_oldest_request_of_their_op() -> None:
    subs = Subscriptions("linear")
    subs.connected()
    (a,) = sent(subs.want(["tickers.BTCUSDT"]))
    (b,) = sent(subs.want(["tickers.ETHUSDT"]))
    assert subs.on_ack(ack(a, with_id=False)).confirmed == ["tickers.BTCUSDT"]
    assert subs.on_ack(ack(b, with_id=False)).confirmed == ["tickers.ETHUSDT"]


def test_option_command_resp_settles_each_topic_alone() -> None:
    subs = Subscriptions("option")
    subs.connected()
    (frame,) = sent(subs.want(["tickers.BTC-1JAN27-1-C", "tickers.BTC-1JAN27-2-C"]))
    resp = decode(json.dumps(replies.option_command_resp("c", "subscribe", replies.MISSING,
                                                         ["tickers.BTC-1JAN27-1-C"], ["tickers.BTC-1JAN27-2-C"])))
    assert isinstance(resp, SubscribeAck)
    step = subs.on_ack(resp)
    assert step.confirmed == ["tickers.BTC-1JAN27-1-C"]
    assert [t for t, _ in step.rejected] == ["tickers.BTC-1JAN27-2-C"]
    assert subs.pending == () and frame["op"] == "subscribe"


OPT_A = "tickers.BTC-1JAN27-1-C"
OPT_B = "tickers.BTC-1JAN27-2-C"


def option_resp(op: str, ok: list[str], failed: list[str] = [], *,  # noqa: B006 (read only)
                unsubscribe_op: bool = True) -> SubscribeAck | SubscribeFailure:
    event = decode(json.dumps(replies.option_command_resp("c", op, replies.MISSING, ok, failed,
                                                          unsubscribe_op=unsubscribe_op)))
    assert isinstance(event, (SubscribeAck, SubscribeFailure))
    return event


def answer(subs: Subscriptions, event: SubscribeAck | SubscribeFailure) -> Step:
    return subs.on_ack(event) if isinstance(event, SubscribeAck) else subs.on_failure(event)


@pytest.mark.parametrize("unsubscribe_op", [True, False], ids=["unsub-names-op", "unsub-op-less"])
def test_an_option_unsubscribe_is_settled_whether_or_not_its_answer_names_the_op(unsubscribe_op: bool) -> None:
    subs = Subscriptions("option")
    subs.connected()
    (sub,) = sent(subs.want([OPT_A, OPT_B]))
    assert sub["args"] == [OPT_A, OPT_B]
    assert answer(subs, option_resp("subscribe", [OPT_A, OPT_B])).confirmed == [OPT_A, OPT_B]
    (unsub,) = sent(subs.drop([OPT_A]))
    assert unsub["op"] == "unsubscribe" and unsub["args"] == [OPT_A]
    resp = option_resp("unsubscribe", [OPT_A], unsubscribe_op=unsubscribe_op)
    assert resp.op == ("unsubscribe" if unsubscribe_op else "")
    step = answer(subs, resp)
    assert step.confirmed == [] and step.frames == []
    assert subs.pending == (), "the unsubscribe is answered, not left pending"
    assert subs.state(OPT_A) is SubState.IDLE and subs.confirmed == frozenset([OPT_B])
    assert subs.is_settled()


@pytest.mark.parametrize("unsubscribe_op", [True, False], ids=["unsub-names-op", "unsub-op-less"])
def test_option_answers_in_flight_for_one_topic_are_matched_in_order(unsubscribe_op: bool) -> None:
    """Subscribe, dispose and observe again before any answer: three requests for one topic."""
    subs = Subscriptions("option")
    subs.connected()
    s1 = sent(subs.want([OPT_A]))[0]
    u2 = sent(subs.drop([OPT_A]))[0]
    s3 = sent(subs.want([OPT_A]))[0]
    assert [f["op"] for f in (s1, u2, s3)] == ["subscribe", "unsubscribe", "subscribe"]
    assert answer(subs, option_resp("subscribe", [OPT_A])).confirmed == [], "answers s1: s3 decides"
    assert answer(subs, option_resp("unsubscribe", [OPT_A], unsubscribe_op=unsubscribe_op)).confirmed == []
    assert subs.state(OPT_A) is SubState.SUBSCRIBING
    assert answer(subs, option_resp("subscribe", [OPT_A])).confirmed == [OPT_A]
    assert subs.is_settled()


def test_an_op_less_failure_of_an_older_subscribe_does_not_reject_the_newer_one() -> None:
    subs = Subscriptions("option")
    subs.connected()
    sent(subs.want([OPT_A]))
    sent(subs.drop([OPT_A]))
    sent(subs.want([OPT_A]))
    first = option_resp("subscribe", [], [OPT_A])  # s1 refused (e.g. a limit at that moment)
    assert isinstance(first, SubscribeFailure) and first.op == ""
    assert subs.on_failure(first).rejected == []
    second = option_resp("unsubscribe", [], [OPT_A], unsubscribe_op=False)  # nothing to unsubscribe
    assert answer(subs, second).rejected == []
    assert answer(subs, option_resp("subscribe", [OPT_A])).confirmed == [OPT_A]
    assert subs.wanted == (OPT_A,) and subs.is_settled()


def test_a_late_op_less_answer_with_nothing_pending_changes_nothing() -> None:
    subs = Subscriptions("option")
    subs.connected()
    sent(subs.want([OPT_A]))
    answer(subs, option_resp("subscribe", [OPT_A]))
    assert answer(subs, option_resp("subscribe", [OPT_A])).confirmed == []
    assert answer(subs, option_resp("unsubscribe", [], [OPT_A], unsubscribe_op=False)).rejected == []
    assert subs.confirmed == frozenset([OPT_A]) and subs.is_settled()


def test_already_subscribed_counts_as_confirmed() -> None:
    subs = Subscriptions("linear")
    subs.connected()
    (frame,) = sent(subs.want(["tickers.BTCUSDT"]))
    step = subs.on_failure(failure(frame, replies.already_subscribed("tickers.BTCUSDT")))
    assert step.confirmed == ["tickers.BTCUSDT"] and step.rejected == [] and subs.is_settled()


def test_dispose_before_the_ack_unsubscribes_and_a_reobserved_topic_is_subscribed_afresh() -> None:
    subs = Subscriptions("linear")
    subs.connected()
    (sub,) = sent(subs.want(["orderbook.50.BTCUSDT"]))
    (unsub,) = sent(subs.drop(["orderbook.50.BTCUSDT"]))  # disposed while the subscribe is in flight
    assert unsub["op"] == "unsubscribe"
    (again,) = sent(subs.want(["orderbook.50.BTCUSDT"]))  # observed again: a fresh subscribe
    assert again["op"] == "subscribe"
    assert subs.on_ack(ack(sub)).confirmed == []  # answers an older request: the newest decides
    subs.on_ack(ack(unsub))
    assert subs.on_ack(ack(again)).confirmed == ["orderbook.50.BTCUSDT"]
    assert subs.is_settled()


def test_refresh_sends_unsubscribe_then_subscribe_at_once() -> None:
    subs = Subscriptions("linear")
    subs.connected()
    (frame,) = sent(subs.want(["orderbook.50.BTCUSDT"]))
    subs.on_ack(ack(frame))
    assert [f["op"] for f in sent(subs.refresh("orderbook.50.BTCUSDT"))] == ["unsubscribe", "subscribe"]
    assert subs.refresh("orderbook.50.BTCUSDT").frames == []  # already refreshing


def test_a_reconnect_resubscribes_what_is_wanted_and_forgets_what_was_in_flight() -> None:
    subs = Subscriptions("linear")
    subs.connected()
    subs.want(["tickers.BTCUSDT"])
    subs.disconnected()
    assert subs.pending == () and subs.confirmed == frozenset()
    assert [f["args"] for f in sent(subs.connected())] == [["tickers.BTCUSDT"]]


def test_the_args_budget_rejects_what_does_not_fit() -> None:
    subs = Subscriptions("linear")
    subs.connected()
    names = [f"tickers.{'X' * 50}{i:05d}" for i in range(400)]  # 63 chars each: 333 fit in 21,000
    step = subs.want(names)
    assert len(step.rejected) == 400 - 21_000 // len(names[0])
    assert "21000-character" in step.rejected[0][1]


def test_the_trade_socket_takes_no_subscriptions() -> None:
    try:
        Subscriptions("trade")
    except ValueError as exc:
        assert "trade" in str(exc)
    else:
        raise AssertionError("Subscriptions('trade') must refuse")


# --------------------------------------------------------------------------- property test

TOPICS = ["tickers.AAAUSDT", "tickers.BBBUSDT", "tickers.CCCUSDT", "tickers.BADUSDT"]
BAD = {"tickers.BADUSDT"}


@dataclass
class Exchange:
    """Bybit as the machine sees it: requests and replies travel in order; a batch with a bad or an
    already held topic fails whole, naming that topic."""

    with_ids: bool
    option: bool = False
    """Answer like the option socket: per-topic ``COMMAND_RESP`` lists, no ``req_id``, no ``op`` on subscribe."""
    unsubscribe_op: bool = True
    """Option socket only: whether an unsubscribe answer names its op (unconfirmed either way)."""
    held: set[str] = field(default_factory=set)
    to_server: deque[tuple[int, dict[str, Any]]] = field(default_factory=deque)
    to_client: deque[Any] = field(default_factory=deque)
    sent: int = 0
    snapshot_from: dict[str, int] = field(default_factory=dict)
    """topic -> number of the subscribe frame whose success sent its latest snapshot."""

    def send(self, step: Step) -> None:
        for f in step.frames:
            self.to_server.append((self.sent, json.loads(f)))
            self.sent += 1

    def serve_one(self) -> None:
        number, frame = self.to_server.popleft()
        args = frame["args"]
        if self.option:
            self._serve_option(number, frame["op"], args)
            return
        if frame["op"] == "unsubscribe":
            self.held.difference_update(args)
            self.to_client.append(ack(frame, with_id=self.with_ids))
            return
        for t in args:
            if t in BAD:
                self.to_client.append(failure(frame, replies.handler_not_found(t), with_id=self.with_ids))
                return
            if t in self.held:
                self.to_client.append(failure(frame, replies.already_subscribed(t), with_id=self.with_ids))
                return
        self.held.update(args)
        for t in args:
            self.snapshot_from[t] = number  # a fresh subscription: Bybit sends a snapshot
        self.to_client.append(ack(frame, with_id=self.with_ids))

    def _serve_option(self, number: int, op: str, args: list[str]) -> None:
        """The option socket takes what it can and lists the rest as failed (a held topic, too)."""
        if op == "unsubscribe":
            ok = [t for t in args if t in self.held]
            self.held.difference_update(ok)
        else:
            ok = [t for t in args if t not in BAD and t not in self.held]
            self.held.update(ok)
            for t in ok:
                self.snapshot_from[t] = number
        self.to_client.append(option_resp(op, ok, [t for t in args if t not in ok],
                                          unsubscribe_op=self.unsubscribe_op))

    def reply_one(self, subs: Subscriptions) -> Step:
        event = self.to_client.popleft()
        return subs.on_ack(event) if isinstance(event, SubscribeAck) else subs.on_failure(event)

    def reconnect(self, subs: Subscriptions) -> None:
        subs.disconnected()
        self.held.clear()
        self.to_server.clear()
        self.to_client.clear()
        self.send(subs.connected())


ops = st.one_of(
    st.tuples(st.just("want"), st.sampled_from(TOPICS)),
    st.tuples(st.just("drop"), st.sampled_from(TOPICS)),
    st.tuples(st.just("refresh"), st.sampled_from(TOPICS)),
    st.tuples(st.just("serve"), st.just("")),
    st.tuples(st.just("reply"), st.just("")),
    st.tuples(st.just("reconnect"), st.just("")),
)


@given(st.booleans(), st.lists(ops, max_size=60))
@example(True, [("want", TOPICS[0]), ("drop", TOPICS[0]), ("want", TOPICS[0]), ("serve", ""), ("reply", "")])
@example(False, [("want", TOPICS[0]), ("want", TOPICS[3]), ("serve", ""), ("drop", TOPICS[0]), ("serve", ""),
                 ("reply", ""), ("want", TOPICS[0])])
def test_the_exchange_converges_to_what_is_wanted(with_ids: bool, script: list[tuple[str, str]]) -> None:
    converges(Subscriptions("linear"), Exchange(with_ids), script)


@given(st.booleans(), st.lists(ops, max_size=60))
@example(False, [("want", TOPICS[0]), ("serve", ""), ("reply", ""), ("drop", TOPICS[0]), ("serve", ""),
                 ("reply", "")])
@example(False, [("want", TOPICS[0]), ("drop", TOPICS[0]), ("want", TOPICS[0]), ("want", TOPICS[3]),
                 ("drop", TOPICS[3]), ("want", TOPICS[3]), ("refresh", TOPICS[0])])
def test_the_option_exchange_converges_whether_or_not_unsubscribe_answers_name_their_op(
        unsubscribe_op: bool, script: list[tuple[str, str]]) -> None:
    converges(Subscriptions("option"), Exchange(False, option=True, unsubscribe_op=unsubscribe_op), script)


def converges(subs: Subscriptions, ex: Exchange, script: list[tuple[str, str]]) -> None:
    """Play ``script`` against ``ex``, answer everything, and check the exchange holds what is wanted."""
    ex.send(subs.connected())
    wanted: set[str] = set()
    rejected: set[str] = set()
    observed_since: dict[str, int] = {}  # topic -> first frame number sent after it was (re)observed
    for op, topic in script:
        step = Step()
        if op == "want":
            if topic not in wanted:
                observed_since[topic] = ex.sent
            wanted.add(topic)
            step = subs.want([topic])
        elif op == "drop":
            wanted.discard(topic)
            step = subs.drop([topic])
        elif op == "refresh":
            step = subs.refresh(topic)
        elif op == "serve" and ex.to_server:
            ex.serve_one()
        elif op == "reply" and ex.to_client:
            step = ex.reply_one(subs)
        elif op == "reconnect":
            ex.reconnect(subs)
        rejected.update(t for t, _ in step.rejected)
        wanted.difference_update(t for t, _ in step.rejected)
        ex.send(step)
    for _ in range(200):  # drain: every request answered, every answer read
        if ex.to_server:
            ex.serve_one()
        elif ex.to_client:
            step = ex.reply_one(subs)
            rejected.update(t for t, _ in step.rejected)
            wanted.difference_update(t for t, _ in step.rejected)
            ex.send(step)
        else:
            break
    assert not ex.to_server and not ex.to_client
    assert rejected <= BAD
    assert set(subs.wanted) == wanted
    assert ex.held == wanted, (ex.held, wanted)
    assert subs.confirmed == frozenset(wanted)
    assert subs.is_settled()
    for t in wanted:  # every topic observed again got a snapshot from a subscribe sent after that
        assert ex.snapshot_from.get(t, -1) >= observed_since[t], (t, ex.snapshot_from.get(t), observed_since[t])
