"""Grading: a notebook and a case in, a report out; candidate code runs only in the sandbox."""
