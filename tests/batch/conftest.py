"""One real Dask LocalCluster for the batch tests: 2 worker processes, 1 thread each, on 127.0.0.1."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def cluster():
    distributed = pytest.importorskip("distributed")
    from stylegram.batch.cluster import THREADS_ENV

    os.environ[THREADS_ENV] = "1"  # two workers on two cores: one torch thread each
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as local:
        yield local
    os.environ.pop(THREADS_ENV, None)


@pytest.fixture
def client(cluster):
    """A client of the cluster with both workers up (one may be restarting after a kill)."""
    from stylegram.batch.cluster import connect

    client = connect(cluster.scheduler_address, timeout=10)
    client.wait_for_workers(2, timeout=60)
    yield client
    client.close()
