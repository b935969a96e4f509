"""The in-sandbox runner (run there with the standard library and the runtime venv only) and its protocol."""
