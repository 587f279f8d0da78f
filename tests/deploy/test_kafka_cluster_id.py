"""The KRaft cluster id a fresh stack formats its storage with."""

from __future__ import annotations

import base64

from deploy.kafka_broker import cluster_id


def test_an_id_starting_with_a_dash_is_drawn_again() -> None:
    # 0xfb... encodes to "-" first in URL-safe base64: the storage tool's parser would read
    # "-t -..." as a missing argument and the stack would not start.
    draws = iter([b"\xfb" + bytes(15), b"\x01" * 16])
    found = cluster_id(lambda: next(draws))
    assert found == base64.urlsafe_b64encode(b"\x01" * 16).rstrip(b"=").decode()
    assert len(found) == 22


def test_ids_are_random_and_never_start_with_a_dash() -> None:
    ids = {cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert not any(i.startswith("-") for i in ids)
