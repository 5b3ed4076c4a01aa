"""The development keys in the data folder: processes that start together on a fresh folder (a `serve`
and its worker, two `gateway refresh-tokens`) all end up with the same keys, and none of them fails."""

from __future__ import annotations

import json
import multiprocessing
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from services.crypto import dev_secret_box
from services.tokens import dev_key_set

pytestmark = pytest.mark.unit
PROCESSES = 12


def _start_together(data_dir: str, barrier: Barrier, answers: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    try:
        box = dev_secret_box(Path(data_dir))
        keys = dev_key_set(Path(data_dir))
        answers.put(f"{box.encrypt('probe', context='test')}|{json.dumps(keys.as_dict(), sort_keys=True)}")
    except Exception as error:
        answers.put(f"failed: {type(error).__name__}: {error}")


def test_processes_starting_at_once_on_a_fresh_folder_share_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    answers: multiprocessing.Queue[str] = context.Queue()
    processes = [
        context.Process(target=_start_together, args=(str(tmp_path), barrier, answers)) for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    seen = [answers.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert not [each for each in seen if each.startswith("failed")], seen
    assert len({each.split("|", 1)[1] for each in seen}) == 1  # one signing key set for all of them
    box = dev_secret_box(tmp_path)  # and one encryption key: what each process sealed opens here
    assert {box.decrypt(each.split("|", 1)[0], context="test") for each in seen} == {"probe"}
    keys = tmp_path / "keys"
    assert sorted(path.name for path in keys.iterdir()) == ["encryption-keys", "jwt-keys.json"]  # no drafts left
    for path in keys.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_written_earlier_is_read_back(tmp_path: Path) -> None:
    first, again = dev_secret_box(tmp_path), dev_secret_box(tmp_path)
    sealed = first.encrypt("refresh-token", context="integration:1")
    assert again.decrypt(sealed, context="integration:1") == "refresh-token"
    assert dev_key_set(tmp_path).as_dict() == dev_key_set(tmp_path).as_dict()
