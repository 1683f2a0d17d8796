"""The wallet-analytics domain: configuration, database, analytics, ETL, exports, auth.

Nothing here knows about HTTP or queues.
"""
