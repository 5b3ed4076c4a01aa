"""Whole-selection SQL for reads (issue 14): graph/compiled/execution.py is the hook, plan.py reads a
selection, sql.py writes its statement, tables.py says what the database can answer."""
