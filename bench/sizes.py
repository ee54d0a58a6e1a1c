"""How big each scenario is: ``full`` is the issue's sizes, ``small`` a quick version of the same runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    repeats: int  # default number of repeated runs; ``--repeats`` overrides it
    # S1 faithful kill: (idle sessions on the node, timed calls per side) for each population of the
    # cost curve, and warm-up calls per side
    s1_curve: tuple[tuple[int, int], ...]
    s1_warmup: int
    # S2 sweep: sessions of the swept account, and bystanders (another account) that must survive
    s2_sessions: int
    s2_bystanders: int
    # S3 list: (sessions on the node, timed calls per side) for each population of the cost curve,
    # and warm-up calls per side
    s3_curve: tuple[tuple[int, int], ...]
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
    # S8 PostgreSQL inventory: (sessions, timed calls per side) of its S1 and of its S3
    s8_kill: tuple[int, int]
    s8_list: tuple[int, int]
    # S9 DAS: (sessions, timed calls per side) of ListProcesses and of DeleteProcess
    s9_list: tuple[int, int]
    s9_kill: tuple[int, int]
    # S10 newer features: (executing sessions, timed calls per side) of intelligent kill's grouping;
    # seconds per CPU sample; excess executions stopped; (idle sessions, timed calls per side) of
    # S1 and S3 with and without an SQL limit in force
    s10_grouping: tuple[int, int]
    s10_cpu_seconds: float
    s10_stops: int
    s10_with_limit: tuple[int, int]


FULL = Size(
    name="full",
    repeats=5,
    s1_curve=((100, 200), (1000, 200), (5000, 60), (10000, 40)),
    s1_warmup=10,
    s2_sessions=5000,
    s2_bystanders=100,
    s3_curve=((100, 200), (1000, 200), (5000, 100), (10000, 60)),
    s3_warmup=10,
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
    s8_kill=(1000, 120),
    s8_list=(5000, 60),
    s9_list=(5000, 100),
    s9_kill=(1000, 100),
    s10_grouping=(5000, 40),
    s10_cpu_seconds=10.0,
    s10_stops=40,
    s10_with_limit=(1000, 100),
)

SMALL = Size(
    name="small",
    repeats=2,
    s1_curve=((100, 30), (1000, 20)),
    s1_warmup=4,
    s2_sessions=500,
    s2_bystanders=20,
    s3_curve=((100, 30), (1000, 20)),
    s3_warmup=4,
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
    s8_kill=(200, 10),
    s8_list=(1000, 10),
    s9_list=(1000, 10),
    s9_kill=(200, 10),
    s10_grouping=(500, 10),
    s10_cpu_seconds=2.0,
    s10_stops=4,
    s10_with_limit=(200, 10),
)

SIZES = {size.name: size for size in (FULL, SMALL)}


def largest(curve: tuple[tuple[int, int], ...]) -> int:
    return max(sessions for sessions, _ in curve)
