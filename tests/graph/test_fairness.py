"""One big answer does not hold the event loop: pages completed one after another give way to other
clients between slices (graph/fairness.py). The flood benchmark measures the effect on `/healthz`."""

from __future__ import annotations

import asyncio
import time

from graph.fairness import SLICE_SECONDS, take_turn


def _complete_a_page() -> None:
    """What graphql-core does with a page: CPU work without an await, here two slices long."""
    until = time.monotonic() + 2 * SLICE_SECONDS
    while time.monotonic() < until:
        pass


async def _pages(use_turns: bool) -> list[object]:
    loop = asyncio.get_running_loop()
    order: list[object] = []
    loaded = loop.create_future()  # one batch answers every parent's page at once

    async def page(number: int) -> None:
        await loaded
        if use_turns:
            await take_turn()
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
