"""advise's plan without workers: which pools a task's class calls for (from the catalogue), the ladders, where the
search steps from a bottleneck or a broken limit, and the commands it prints."""

from __future__ import annotations

from config import catalogue
from config.settings import LabSettings
from producer.advise import bottleneck, brokers, command, recommend
from producer.advise.search import next_moves
from producer.advise.space import Config, Ladder, search_space
from producer.advise.trial import TrialSetup
from producer.measure.advise_record import Constraints, Trial
from producer.measure.figure_models import MemoryFigures, TaskClass
from producer.measure.record_models import Bottleneck
from worker.task_args import WorkloadArgs

SETTINGS = LabSettings(freethreaded_python="")


def _pools(label: TaskClass, workload: str = "cpu") -> list[str]:
    return [ladder.pool for ladder in search_space(label, catalogue.workload(workload), SETTINGS, 2).ladders]


def test_the_class_picks_the_pools_from_the_catalogue() -> None:
    assert "prefork" in _pools("holds the GIL")
    assert not {"threads", "gevent", "solo"} & set(_pools("holds the GIL"))
    assert {"threads", "prefork"} <= set(_pools("releases the GIL while computing"))
    assert "gevent" not in _pools("releases the GIL while computing")  # one OS thread: catalogue.cooperative
    waits = _pools("waits", "io_sleep")
    assert {"threads", "gevent", "prefork"} <= set(waits) and "solo" not in waits
    left_out = search_space("waits", catalogue.workload("io_sleep"), SETTINGS, 2).left_out
    assert any(line.startswith("threads_nogil: ") for line in left_out)


def test_a_task_only_unfit_pools_run_is_tried_on_them() -> None:
    space = search_space("holds the GIL", catalogue.workload("io_sleep_async"), SETTINGS, 2)
    assert [ladder.pool for ladder in space.ladders] == ["asyncio"]
    assert "asyncio: tried anyway (holds the GIL): no other pool runs the task" in space.left_out


def test_ladders_start_where_the_class_says_and_stay_on_powers_of_two() -> None:
    space = search_space("waits", catalogue.workload("io_sleep"), SETTINGS, 2)
    threads, prefork = space.ladder("threads"), space.ladder("prefork")
    assert (threads.start, threads.max_concurrency, prefork.start, prefork.max_concurrency) == (16, 256, 2, 8)
    assert threads.concurrencies() == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert Ladder("prefork", 6, 24, 2).concurrencies() == [1, 3, 6, 12, 24]
    assert [c.label for c in Ladder("prefork", 2, 4, 2).grid()] == [
        "prefork -c 1",
        "prefork -c 2",
        "prefork -c 4",
        "prefork -c 1 × 2 processes",
        "prefork -c 2 × 2 processes",
        "prefork -c 4 × 2 processes",
    ]


def _trial(pool: str, c: int, w: int, name: str, *, ruled_out: list[str] | None = None, idle: float = 60.0) -> Trial:
    memory = MemoryFigures(
        processes=w * (c + 1 if pool == "prefork" else 1),
        slots=c * w,
        idle_pss_mb=idle,
        idle_uss_mb=idle,
        peak_pss_mb=idle,
        peak_uss_mb=idle,
        per_slot_pss_mb=idle / (c * w),
        per_slot_uss_mb=idle / (c * w),
    )
    return Trial(
        pool=pool,
        concurrency=c,
        workers=w,
        celery="stock",
        submitted=10,
        completed=10,
        failed=0,
        lost=0,
        throughput=100.0,
        latency_p95_s=0.1,
        memory=memory,
        bottleneck=Bottleneck(name=name, bound=110.0, share=0.9, figures=""),
        ruled_out=ruled_out or [],
    )


def _setup(label: TaskClass) -> TrialSetup:
    return TrialSetup(None, SETTINGS, WorkloadArgs("io_sleep", 10), label, "stock", 2, 1.0, 0.01)  # type: ignore[arg-type]


def test_each_bottleneck_leads_to_its_move() -> None:
    free = Constraints(budget_s=60)
    waits, computes = _setup("waits"), _setup("holds the GIL")

    def moves(trial: Trial, setup: TrialSetup, limits: Constraints = free) -> list[str]:
        return [config.label for config, _ in next_moves(trial, setup, limits)]

    assert moves(_trial("threads", 16, 1, bottleneck.SLOTS), waits) == ["threads -c 32"]
    assert moves(_trial("threads", 32, 1, bottleneck.CEILING), waits) == ["threads -c 32 × 2 processes"]
    assert moves(_trial("threads", 16, 1, bottleneck.GIL), waits) == ["threads -c 16 × 2 processes"]
    assert moves(_trial("prefork", 2, 1, bottleneck.CORES), computes) == []
    idle_cores = _trial("threads", 32, 1, bottleneck.CORES)
    idle_cores.bottleneck.share = 0.6  # type: ignore[union-attr]
    assert moves(idle_cores, waits) == ["threads -c 64", "threads -c 32 × 2 processes"]
    assert moves(_trial("prefork", 2, 1, bottleneck.OVERHEAD), computes) == []  # a slot per core already
    assert moves(_trial("threads", 16, 1, bottleneck.OVERHEAD), waits) == [
        "threads -c 32",
        "threads -c 16 × 2 processes",
    ]
    over = _trial("prefork", 4, 1, bottleneck.SLOTS, ruled_out=["max_memory_mb: peak PSS 200 MiB > 150 MiB"])
    assert moves(over, computes, Constraints(budget_s=60, max_memory_mb=150)) == ["prefork -c 2"]
    hopeless = _trial("threads", 16, 1, bottleneck.SLOTS, ruled_out=["max_memory_mb: peak PSS 60 MiB > 1 MiB"])
    assert moves(hopeless, waits, Constraints(budget_s=60, max_memory_mb=1)) == []  # one process is already over
    failing = _trial("threads", 16, 1, bottleneck.SLOTS, ruled_out=["tasks failed: 10 failed, 0 lost"])
    assert moves(failing, waits) == []


def test_ties_go_to_the_least_memory_and_runners_up_are_other_pools_first() -> None:
    big = _trial("prefork", 4, 1, bottleneck.CORES, idle=200.0)
    small = _trial("prefork", 2, 1, bottleneck.CORES, idle=120.0)
    small.throughput = 97.0  # within 5 % of the fastest
    other = _trial("threads", 2, 1, bottleneck.GIL)
    other.throughput = 50.0
    assert recommend.pick([big, small, other]) is small
    assert recommend.runners_up([big, small, other], small) == [other, big]


def test_commands_carry_the_env_a_pool_needs() -> None:
    line = command.worker_command(Config("gevent", 64, 2), "stock", SETTINGS, {})
    assert line.startswith("LAB_CELERY_MODE=stock celery -A worker.app worker -P gevent -c 64 -Q gevent -n advised1@%h")
    assert command.compose_scale(Config("gevent", 64, 2), "stock", SETTINGS, {}) is None
    assert command.compose_scale(Config("threads", 128, 2), "lab", SETTINGS, {"LAB_TASK_MODULES": "mine"}) == (
        "LAB_CELERY_MODE=lab LAB_IO_CONCURRENCY=128 LAB_TASK_MODULES=mine docker compose up -d --scale worker-io=2"
    )
    custom = catalogue.Pool(
        "custom_test", "a class-path pool", "worker.pools.offload:Nothing", lambda _: 2, "2", gil_per_process=False,
        process_per_slot=False, tasks_on_main_thread=False, colour="#000000", env={"PYTHON_GIL": "0"},
    )  # fmt: skip
    catalogue.add_pool(custom)
    try:
        line = command.worker_command(Config("custom_test", 2), "stock", SETTINGS, {})
    finally:
        del catalogue.POOLS["custom_test"]
    assert line.startswith(
        "LAB_CELERY_MODE=stock PYTHON_GIL=0 CELERY_CUSTOM_WORKER_POOL=worker.pools.offload:Nothing celery "
        "-A worker.app worker -P custom -c 2 -Q custom_test"
    )


def test_a_broker_stays_with_its_climb_and_is_named_in_the_pick() -> None:
    on_rabbit = _trial("threads", 16, 1, bottleneck.CEILING)
    on_rabbit.broker, on_rabbit.throughput, on_rabbit.broker_cpu_ms_per_task = "rabbitmq", 140.0, 0.3
    on_redis = _trial("prefork", 2, 1, bottleneck.CORES)
    on_redis.broker, on_redis.broker_cpu_ms_per_task = "redis", 0.2
    moves = next_moves(on_rabbit, _setup("waits"), Constraints(budget_s=60))
    assert [config.label for config, _ in moves] == ["threads -c 16 × 2 processes on rabbitmq"]
    assert brokers.broker_verdict([on_redis, on_rabbit], ["redis", "rabbitmq"]) == (
        "brokers: rabbitmq 1.40× redis (best: threads -c 16 on rabbitmq 140/s; prefork -c 2 on redis 100/s); "
        "broker CPU per task: rabbitmq 0.300 ms, redis 0.200 ms"
    )
    assert brokers.broker_verdict([on_redis], ["redis", "rabbitmq"]) == (
        "brokers: no configuration met the constraints on rabbitmq (best: prefork -c 2 on redis 100/s)"
    )
    chosen = recommend.recommendation(
        [on_redis, on_rabbit], "stock", SETTINGS, {}, {"rabbitmq": "amqp://lab:" + "not-a-secret" + "@127.0.0.1:5999//"}
    )
    assert chosen is not None and chosen.trial is on_rabbit
    assert chosen.command.startswith("LAB_BROKER_URL='amqp://lab:***@127.0.0.1:5999//' LAB_CELERY_MODE=stock ")
    assert (
        chosen.compose_scale is not None
        and "-f docker-compose.rabbitmq.yml --profile rabbitmq up" in chosen.compose_scale
    )
    assert recommend.runners_up([on_redis, on_rabbit], on_rabbit) == [on_redis]
