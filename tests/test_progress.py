"""CmdStan-shaped progress lines, as stanli prints them, read into per-chain progress."""

from __future__ import annotations

from mixfit.engines.progress import ChainLines, ChainProgress, refresh_every


def test_chain_lines_become_per_chain_and_overall_progress():
    calls: list[tuple] = []
    lines = ChainLines(ChainProgress(lambda *call: calls.append(call), chains=2, iterations=2000))
    # written in pieces, as print() does, and interleaved between chains
    lines.write("Chain [1] Iteration:    1 / 2000 [  0%]  (Warmup)")
    lines.write("\n")
    lines.write("Chain [2] Iteration: 1000 / 2000 [ 50%]  (Warmup)\nChain [2] Iteration: 1001 / ")
    lines.write("2000 [ 50%]  (Sampling)\n\nChain [1] Elapsed Time: 0.1 seconds (Warm-up)\n")
    lines.write("Warning: 3 of 2000 post-warmup transitions (0.1%) ended with a divergence.\n")
    assert calls == [
        ("chain 1", 1 / 2000, "chain 1: warmup 1/2000"),
        ("sample", 1 / 4000, "Sampling 2 chains"),
        ("chain 2", 0.5, "chain 2: warmup 1000/2000"),
        ("sample", 1001 / 4000, "Sampling 2 chains"),
        ("chain 2", 1001 / 2000, "chain 2: sampling 1001/2000"),
        ("sample", 1002 / 4000, "Sampling 2 chains"),
    ]
    assert lines.messages() == [
        "Warning: 3 of 2000 post-warmup transitions (0.1%) ended with a divergence."
    ]


def test_about_two_hundred_reports_per_chain():
    assert refresh_every(2000) == 10
    assert refresh_every(150) == 1
    assert refresh_every(1_000_000) == 5000
