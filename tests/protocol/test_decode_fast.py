"""The fast path of decode() (msgspec wire structs) against the general path (orjson + handlers).

Every frame the fast path takes must decode to exactly the event the general path makes; every
frame its types do not fit must still come out as the general path says (never an exception).
"""

from __future__ import annotations

import sys

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxbybit.protocol import BookUpdate, Malformed, PrivateUpdate, TickerUpdate, Trades, Unknown, decode

from .test_decode_fixtures import _all_frames

dm = sys.modules["rxbybit.protocol.decode"]  # the module (the package exports the function under the same name)


def _fast(frame: str) -> object:
    """What the fast reader of the frame's topic makes of it (None: it hands the frame on)."""
    topic = orjson.loads(frame).get("topic")
    assert isinstance(topic, str)
    reader = dm._fast_for(topic)
    try:
        return reader(frame, topic)
    except Exception:
        return None


def _compact(frame: str) -> str:
    return orjson.dumps(orjson.loads(frame)).decode()


def test_fixture_frames_decode_the_same_on_both_paths() -> None:
    taken: dict[type, int] = {}
    for raw in _all_frames():
        for f in {raw, _compact(raw)}:
            ev = decode(f)
            assert ev == dm._decode_general(f) == decode(f.encode()) == decode(bytearray(f.encode())), f[:100]
            if '"topic"' in f[:256]:
                fast = _fast(f)
                if fast is not None:
                    assert fast == ev, f[:100]
                    taken[type(fast)] = taken.get(type(fast), 0) + 1
    # the families the fast path is for were really taken (not all handed on to the general path)
    assert taken.get(BookUpdate, 0) > 50 and taken.get(Trades, 0) > 5
    assert taken.get(TickerUpdate, 0) > 5 and taken.get(PrivateUpdate, 0) > 5


BOOK = ('{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1700000000001,'
        '"data":{"s":"BTCUSDT","b":[["65000.1","0.5"],["64999.9","0"]],"a":[["65000.5","1.25"]],'
        '"u":101,"seq":7},"cts":1700000000000}')


def test_fast_book_values_from_text_and_bytes() -> None:
    ev = _fast(BOOK)
    assert ev == BookUpdate("orderbook.50.BTCUSDT", "BTCUSDT", 50, False, 1700000000001, 101, 7,
                            [(65000.1, 0.5), (64999.9, 0.0)], [(65000.5, 1.25)], 1700000000000)
    assert decode(BOOK) == ev == decode(BOOK.encode())
    assert dm._fast_bytes(BOOK.encode()) == ev == dm._fast_bytes(bytearray(BOOK.encode()))  # the socket gives bytearray


def test_a_topic_that_is_not_utf8_goes_the_general_way() -> None:
    f = b'{"topic":"orderbook.50.\xff","type":"delta"}'
    ev = decode(f)
    assert isinstance(ev, Malformed) and ev == dm._decode_general(f)


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ('"u":101', '"u":"x"', Malformed),  # not an integer
        ('["65000.1","0.5"]', '["abc","0.5"]', Malformed),  # not a number
        ('"type":"delta"', '"type":"partial"', Malformed),  # neither snapshot nor delta
        ('"data":{', '"data":{"x":{},', BookUpdate),  # an extra field is ignored
        ('["65000.1","0.5"]', '["65000.1","0.5","0.1"]', BookUpdate),  # an RPI row: third column ignored
        ('"u":101', '"u":"101"', BookUpdate),  # an id sent as a digit string
        (',"u":101', "", Malformed),  # no update id
    ],
)
def test_book_frames_the_fast_types_do_not_fit_go_the_general_way(old: str, new: str, kind: type) -> None:
    f = BOOK.replace(old, new)
    assert f != BOOK
    ev = decode(f)
    assert type(ev) is kind and ev == dm._decode_general(f)
    if isinstance(ev, Malformed):
        assert ev.raw == f and ev.topic == "orderbook.50.BTCUSDT"


def test_topic_found_only_at_the_top_level() -> None:
    # a nested "topic" key names the wrong reader: the top-level topic check hands the frame on
    f = '{"op":"x","data":{"topic":"orderbook.50.BTCUSDT"},"success":false,"ret_msg":"bad"}'
    assert decode(f) == dm._decode_general(f)
    g = '{"topic":"orderbook.50.BTCUSDT"'  # truncated frame: Malformed with the text
    ev = decode(g)
    assert isinstance(ev, Malformed) and ev.raw == g


def test_trades_tickers_private_fast_values() -> None:
    t = ('{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1700000000010,"data":[{"T":1700000000009,'
         '"s":"BTCUSDT","S":"Buy","v":"0.010","p":"65000.10","L":"PlusTick","i":"abc-1","BT":false,"seq":9}]}')
    ev = _fast(t)
    assert isinstance(ev, Trades) and ev == decode(t) == dm._decode_general(t)
    tr = ev.trades[0]
    assert (tr.ts, tr.price, tr.size, tr.trade_id, tr.tick_direction, tr.seq) == (
        1700000000009, 65000.1, 0.01, "abc-1", "PlusTick", 9)
    k = ('{"topic":"tickers.BTCUSDT","type":"delta","ts":5,"cs":3,"data":{"symbol":"BTCUSDT",'
         '"tickDirection":"ZeroPlusTick","lastPrice":"65000.5","deliveryTime":"","fundingRate":"-0.0001"}}')
    ev2 = _fast(k)
    assert isinstance(ev2, TickerUpdate) and ev2 == decode(k) == dm._decode_general(k)
    assert dict(ev2.fields) == {"symbol": "BTCUSDT", "tickDirection": "ZeroPlusTick", "lastPrice": 65000.5,
                                "deliveryTime": "", "fundingRate": -0.0001}
    p = ('{"id":"5923240c6880ab-c59f-420b-9adb-3639adc9dd90","topic":"order","creationTime":1672364262474,'
         '"data":[{"symbol":"ETHUSDT","orderId":"5cf98598","price":"72.5","qty":"1","cumExecQty":"0"}]}')
    ev3 = _fast(p)
    assert isinstance(ev3, PrivateUpdate) and ev3 == decode(p) == dm._decode_general(p)
    assert ev3.items[0]["price"] == "72.5" and ev3.kind == "order" and not ev3.legacy  # exact strings


def test_legacy_order_shape_is_left_to_the_general_path() -> None:
    f = '{"topic":"order","creationTime":1,"data":[{"e":"order","X":"NEW"}]}'
    assert _fast(f) is None
    ev = decode(f)
    assert isinstance(ev, PrivateUpdate) and ev.legacy


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(BOOK) - 1), st.integers(1, 6), st.sampled_from(['"', "x", "1", "]", "{", "", ",", "\\"]))
def test_mangled_book_frames_never_raise_and_agree(at: int, cut: int, put: str) -> None:
    f = BOOK[:at] + put + BOOK[at + cut:]
    ev = decode(f)
    assert ev == dm._decode_general(f) == decode(f.encode())
    if isinstance(ev, (Malformed, Unknown)):
        assert ev.raw == f


def test_tickers_the_typed_fields_do_not_fit_keep_every_field() -> None:
    """Ticker fields are typed (numbers parsed in C); a field Bybit adds later, an empty value or a
    spot v3 letter-field ticker goes the general way and loses nothing."""
    base = ('{"topic":"tickers.BTCUSDT","type":"delta","ts":5,"cs":3,'
            '"data":{"symbol":"BTCUSDT","markPrice":"86716.30"%s}}')
    plain = base % ""
    assert _fast(plain) == decode(plain) == dm._decode_general(plain)
    assert isinstance(_fast(plain), TickerUpdate)  # the typed fast path took it
    for extra, key, value in ((',"brandNewField":"1.5"', "brandNewField", 1.5),
                              (',"preOpenPrice":""', "preOpenPrice", None),
                              (',"fundingRate":"n/a"', "fundingRate", "n/a")):
        f = base % extra
        ev = decode(f)
        assert _fast(f) is None and ev == dm._decode_general(f)
        assert isinstance(ev, TickerUpdate) and ev.fields[key] == value and ev.fields["markPrice"] == 86716.3
    v3 = '{"topic":"tickers.BTCUSDT","ts":7,"data":{"s":"BTCUSDT","c":"65000.1","o":"64000"}}'
    ev = decode(v3)
    assert isinstance(ev, TickerUpdate) and ev == dm._decode_general(v3) and ev.fields["lastPrice"] == 65000.1
