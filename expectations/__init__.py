"""great-expectations suites, built in code, one per table (the validation issue fills this)."""
