"""The nightly ETL: which days to materialize, one run at a time, and a record of every run.

`plan` chooses the days, `lock` keeps runs apart, `runs` records them, `job` drives a run and
prints its log, `status` answers "through which date is the data materialized".
"""
