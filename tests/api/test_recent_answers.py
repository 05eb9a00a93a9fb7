"""What feedback refers to (kaon.api.feedback.RecentAnswers): the newest answers, bounded in
count and in bytes of kept bodies; bodies decoded only when feedback comes."""

from __future__ import annotations

from kaon.api.feedback import BODY_MAX, Answered, RecentAnswers, decoded


def answer(request: bytes | None = b'{"x": [1]}', response: bytes | None = b"{}") -> Answered:
    return Answered("petset-c517ec", "petset", "c517ec", "m1", 1.0, request, response)


def test_the_oldest_are_forgotten_past_the_count() -> None:
    recent = RecentAnswers(count=3)
    for i in range(5):
        recent.add(f"r{i}", answer())
    assert len(recent) == 3
    assert recent.get("r0") is None and recent.get("r1") is None
    assert recent.get("r4") is not None


def test_the_oldest_are_forgotten_past_the_byte_budget() -> None:
    recent = RecentAnswers(count=100, budget=2500)
    for i in range(5):
        recent.add(f"r{i}", answer(b"x" * 1000, b""))
    assert [r for r in ("r0", "r1", "r2", "r3", "r4") if recent.get(r)] == ["r3", "r4"]


def test_bodies_too_large_to_keep_are_none() -> None:
    recent = RecentAnswers()
    recent.add("big", answer(b"x" * (BODY_MAX + 1), b'{"ok": 1}'))
    kept = recent.get("big")
    assert kept is not None and kept.request is None and kept.response == b'{"ok": 1}'


def test_decoded_gives_json_else_text_else_none() -> None:
    assert decoded(b'{"x": [1, 2]}') == {"x": [1, 2]}
    assert decoded(b"plain words") == "plain words"
    assert decoded(b"\xff\xd8\xff") is None
    assert decoded(None) is None
