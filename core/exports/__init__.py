"""Exports: asynchronous CSV/JSON files of five datasets (spec, "Export Service").

`datasets` says what each dataset holds and how it filters; `requests` validates and records an
export; `generation` streams the rows into a file; `links` signs and resolves download links;
`maintenance` expires old files and fails stuck exports.
"""
