"""How big each scenario is: ``full`` is the issue's sizes, ``small`` a quick version of the same runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    repeats: int  # default number of repeated runs; ``--repeats`` overrides it
    # S1 faithful kill: idle sessions on the node, timed calls per side, warm-up calls per side
    s1_sessions: int
    s1_calls: int
    s1_warmup: int
    # S2 sweep: sessions of the swept account, and bystanders (another account) that must survive
    s2_sessions: int
    s2_bystanders: int
    # S3 list: sessions on the node, timed calls per side, warm-up calls per side
    s3_sessions: int
    s3_calls: int
    s3_warmup: int
    # S4 load: sessions on the node, concurrent clients, timed and warm-up seconds per side
    s4_sessions: int
    s4_clients: int
    s4_seconds: float
    s4_warmup_seconds: float
    # S5 memory: extra registered nodes, each listed once
    s5_nodes: int
    # S6 cold node: registered nodes, each called cold then warm once
    s6_nodes: int
    # S7 fixed cost: sessions on the node; timed and warm-up calls per side (list, delete), calls on
    # fresh victims (storm) and calls after an idle gap, per side and run
    s7_sessions: int
    s7_calls: int
    s7_warmup: int
    s7_storm_calls: int
    s7_idle_calls: int


FULL = Size(
    name="full",
    repeats=5,
    s1_sessions=1000,
    s1_calls=200,
    s1_warmup=20,
    s2_sessions=5000,
    s2_bystanders=100,
    s3_sessions=5000,
    s3_calls=200,
    s3_warmup=20,
    s4_sessions=100,
    s4_clients=32,
    s4_seconds=20.0,
    s4_warmup_seconds=3.0,
    s5_nodes=500,
    s6_nodes=200,
    s7_sessions=100,
    s7_calls=200,
    s7_warmup=20,
    s7_storm_calls=60,
    s7_idle_calls=6,
)

SMALL = Size(
    name="small",
    repeats=2,
    s1_sessions=200,
    s1_calls=40,
    s1_warmup=5,
    s2_sessions=500,
    s2_bystanders=20,
    s3_sessions=1000,
    s3_calls=40,
    s3_warmup=5,
    s4_sessions=100,
    s4_clients=32,
    s4_seconds=3.0,
    s4_warmup_seconds=1.0,
    s5_nodes=50,
    s6_nodes=20,
    s7_sessions=100,
    s7_calls=40,
    s7_warmup=5,
    s7_storm_calls=10,
    s7_idle_calls=1,
)

SIZES = {size.name: size for size in (FULL, SMALL)}
