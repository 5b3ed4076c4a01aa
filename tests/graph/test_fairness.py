"""One big answer does not hold the event loop: pages completed one after another give way to other
clients between slices (loaders/turns.py), and their nested loads still go out as one batch. The flood
benchmark measures the effect on `/healthz`."""

from __future__ import annotations

import asyncio
import time

import pytest

from loaders.turns import SLICE_SECONDS, Turns

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis


def _complete_a_page() -> None:
    """What graphql-core does with a page: CPU work without an await, here two slices long."""
    until = time.monotonic() + 2 * SLICE_SECONDS
    while time.monotonic() < until:
        pass


async def _pages(use_turns: bool) -> list[object]:
    loop = asyncio.get_running_loop()
    order: list[object] = []
    loaded = loop.create_future()  # one batch answers every parent's page at once
    turns = Turns()

    async def page(number: int) -> None:
        await loaded
        if use_turns:
            await turns.take()
        _complete_a_page()
        order.append(number)
        if number == 0:
            loop.call_soon(order.append, "another client")  # e.g. /healthz arriving meanwhile

    tasks = [asyncio.create_task(page(number)) for number in range(10)]
    await asyncio.sleep(0)
    loaded.set_result(None)
    await asyncio.gather(*tasks)
    return order


async def test_other_clients_are_served_between_the_pages_of_a_big_answer() -> None:
    order = await _pages(use_turns=True)
    assert order.index("another client") <= 2, order
    assert sorted(item for item in order if isinstance(item, int)) == list(range(10))


async def test_without_turns_the_whole_answer_runs_first() -> None:
    """The control: what happened before, and what take_turn prevents."""
    assert (await _pages(use_turns=False)).index("another client") == 10


async def test_loads_made_by_pages_waiting_their_turn_go_out_as_one_batch() -> None:
    """The N+1 guard: slicing a big answer must not split the nested loads into one batch per slice."""
    from collections.abc import Sequence

    from loaders.base import FairLoader

    turns = Turns()
    batches: list[list[int]] = []

    class Doubling(FairLoader[int, int]):
        async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
            batches.append(list(keys))
            return [key * 2 for key in keys]

    loader = Doubling(turns)
    loaded = asyncio.get_running_loop().create_future()

    async def page(number: int) -> int:
        await loaded
        await turns.take()
        _complete_a_page()
        return await loader.load(number)  # e.g. `Message.session` of each row of the page

    tasks = [asyncio.create_task(page(number)) for number in range(10)]
    await asyncio.sleep(0)
    loaded.set_result(None)
    assert await asyncio.gather(*tasks) == [number * 2 for number in range(10)]
    assert batches == [list(range(10))]
