"""Runs Debian's prometheus-pgbouncer-exporter (1.7) collectors once against PGBOUNCER_HOST:PGBOUNCER_PORT and
prints every sample's name and labels, sorted. Its StatsCollector reads total_requests, a column PgBouncer 1.8
renamed to total_query_count: that one name is mapped, as a user of PgBouncer 1.18 must do too."""
import json
import os

from prometheus_pgbouncer_exporter import collectors, utils

stats = dict(collectors.StatsCollector.metrics)
stats["total_query_count"] = stats.pop("total_requests")
collectors.StatsCollector.metrics = stats

conn = utils.get_connection(os.environ["PGBOUNCER_USER"], os.environ["PGBOUNCER_PORT"], os.environ["PGBOUNCER_HOST"])
out = []
for c in (collectors.StatsCollector(connection=conn, databases=None),
          collectors.PoolsCollector(connection=conn, databases=None),
          collectors.DatabasesCollector(connection=conn, databases=None),
          collectors.ListsCollector(connection=conn)):
    for family in c.collect():
        for s in family.samples:
            out.append(s.name + json.dumps(sorted(s.labels.items())))
conn.close()
print("\n".join(sorted(out)))
