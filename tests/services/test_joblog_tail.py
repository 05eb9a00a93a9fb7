"""The last lines of a job log, read back from the end of its file (never the whole file)."""

from __future__ import annotations

from pathlib import Path

from kaon.services.joblog import BLOCK, last_lines, read_tail, tail_of


def test_tail_of_a_file_bigger_than_a_block(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    lines = [f"line {i}\n".encode() for i in range(3 * BLOCK // 8)]
    path.write_bytes(b"".join(lines))
    size = path.stat().st_size
    assert read_tail(path, 3) == (b"".join(lines[-3:]), size - len(b"".join(lines[-3:])), size)
    assert read_tail(path, 5000)[0] == b"".join(lines[-5000:])
    assert read_tail(path, 10**6) == (b"".join(lines), 0, size)  # fewer lines than asked
    assert read_tail(path, 0) == (b"", size, size)


def test_tail_is_bounded_and_starts_at_a_line(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    path.write_bytes(b"x" * 300 + b"\n" + b"a\n" * 100)
    text, start, end = read_tail(path, 1000, limit=150)
    assert text == b"a\n" * 75 and end - start == 150  # the last 150 bytes, whole lines


def test_tail_without_a_final_line_end_and_missing_files(tmp_path: Path) -> None:
    assert tail_of(b"a\nb\nc", 2) == (b"b\nc", 2, 5)
    assert tail_of(b"a\nb\nc\n", 9) == (b"a\nb\nc\n", 0, 6)
    assert last_lines(b"partial\nb\nc\n", 5, whole=False) == b"b\nc\n"
    assert read_tail(tmp_path / "none.log", 3) == (b"", 0, 0)
