"""Exports: asynchronous files of five datasets (spec, "Export Service"), in CSV, JSON, JSON Lines,
Parquet or XLSX, gzip-compressed on request, in a directory or S3.

`datasets` says what each dataset holds and how it filters; `validation` checks a request;
`records` keeps the `analytics_exports` rows (through `state`); `generation` streams the rows
into a file through `formats` (the writers: `writers`, `parquet`, `xlsx`) and `storage` (a local
directory or S3); `links` signs and resolves download links; `maintenance` expires old files and
fails stuck exports.
"""
