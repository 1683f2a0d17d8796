"""Exports: asynchronous CSV/JSON files of five datasets (spec, "Export Service").

`datasets` says what each dataset holds and how it filters; `validation` checks a request;
`records` keeps the `analytics_exports` rows; `generation` streams the rows into a file through
`writers`; `links` signs and resolves download links; `maintenance` expires old files and fails
stuck exports.
"""
