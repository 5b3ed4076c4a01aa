"""services/mailbox.py: the light queue and flag an idle socket and each subscription wait on."""

from __future__ import annotations

import asyncio

import pytest

from services.mailbox import Flag, Mailbox


async def test_items_come_out_in_the_order_they_went_in_across_waits() -> None:
    box: Mailbox[int] = Mailbox()
    for number in range(3):
        box.put_nowait(number)
    assert len(box) == 3
    assert [await box.get() for _ in range(2)] == [0, 1]
    box.put_nowait(3)
    assert [await box.get() for _ in range(2)] == [2, 3]
    assert box.empty() and len(box) == 0


async def test_a_waiting_reader_gets_the_next_item_put() -> None:
    box: Mailbox[str] = Mailbox()
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not reader.done()
    box.put_nowait("first")
    box.put_nowait("second")
    assert await asyncio.wait_for(reader, 1) == "first"
    assert await box.get() == "second"


async def test_a_reader_that_gives_up_loses_nothing_for_the_next() -> None:
    box: Mailbox[str] = Mailbox()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(box.get(), 0.01)
    box.put_nowait("kept")
    assert await asyncio.wait_for(box.get(), 1) == "kept"


async def test_clear_forgets_what_was_waiting() -> None:
    box: Mailbox[int] = Mailbox()
    box.put_nowait(1)
    box.put_nowait(2)
    assert await box.get() == 1
    box.clear()
    assert box.empty()
    box.put_nowait(3)
    assert await box.get() == 3


async def test_a_flag_wakes_every_waiter_when_set_and_lets_through_while_set() -> None:
    flag = Flag()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(waiter.done() for waiter in waiters)
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    assert flag.is_set() and await asyncio.wait_for(flag.wait(), 1)


async def test_a_flag_waiter_that_gives_up_does_not_cancel_the_others() -> None:
    flag = Flag()
    patient = asyncio.create_task(flag.wait())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(flag.wait(), 0.01)
    flag.set()
    assert await asyncio.wait_for(patient, 1)


async def test_a_cleared_flag_makes_the_next_waiter_wait() -> None:
    flag = Flag()
    flag.set()
    flag.clear()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done() and not flag.is_set()
    flag.set()
    assert await asyncio.wait_for(waiter, 1)
