"""A change wakes the client whose control made it before the others (a room's teacher before its followers)."""

from __future__ import annotations

import asyncio

from app.server.registry import Client, LiveSession
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession


def test_notify_wakes_the_client_that_moved_a_control_first() -> None:
    async def main() -> list[Client]:
        live = LiveSession("s", TrainingSession(RunConfig().with_changes({"n_points": 100}), HyperState()))
        for _ in range(30):
            live.clients.add(Client(10))
        teacher = list(live.clients)[-1]  # the last the set gives: woken last unless put first
        teacher.hurried = True
        woken: list[Client] = []

        async def sender(client: Client) -> None:
            await client.wake.wait()
            woken.append(client)

        tasks = [asyncio.create_task(sender(c)) for c in live.clients]
        await asyncio.sleep(0)  # every sender waits
        live.notify()
        await asyncio.gather(*tasks)
        assert woken[0] is teacher
        return woken

    assert len(asyncio.run(main())) == 30
