"""BatchConfig: the settings of `stylegram batch` beyond the style transfer's own (StyleConfig)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import check_fields, option


@dataclass(frozen=True)
class BatchConfig:
    """How a batch pairs its inputs, sweeps settings, and where it runs."""

    zip: bool = option(
        False, "pair the i-th content with the i-th style instead of every content with every style"
    )
    sweep: tuple[str, ...] | None = option(
        None,
        "multiply the jobs by settings: FIELD=V1,V2 with FIELD a stylize option (size=256,512 say);"
        " several sweeps give every combination",
        metavar="FIELD=V1,V2",
    )
    scheduler: str | None = option(
        None,
        "run on a Dask cluster: its scheduler's address (default: $STYLEGRAM_SCHEDULER, else this process)",
        metavar="tcp://HOST:PORT",
    )
    retries: int = option(
        2,
        "with --scheduler: times a job is retried after an unexpected error",
        min=0,
        max=10,
        metavar="N",
    )
    connect_timeout: float = option(
        5.0,
        "with --scheduler: seconds to wait for the scheduler and a worker",
        positive=True,
        max=600,
        metavar="S",
    )

    def __post_init__(self) -> None:
        check_fields(self)
