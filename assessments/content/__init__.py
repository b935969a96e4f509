"""Content read from disk into frozen dataclasses: cases (`cases/`) and rubrics (`rubrics/`)."""
