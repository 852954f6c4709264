"""Validation of canonical batches: great-expectations suites built in code.

``suites``      the ``proxy_events`` (structure) and ``completeness`` suites
``engine``      two engines for the same suites: polars (default) and great-expectations
``clock``       clock sanity: future events, time running backwards, outside the window
``advice``      what to change at the proxy to log the required fields a source lacks
``data_docs``   great-expectations Data Docs from validation reports
"""
