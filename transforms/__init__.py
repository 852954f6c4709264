"""Pure data logic: the canonical schema, one parser per log format, normalization.

Nothing in this package touches the clock, the environment, the network or the
filesystem; callers hand it lines and get frames back.
"""
