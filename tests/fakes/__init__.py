"""Fakes of the outside world (Hugging Face, Discord) served on 127.0.0.1 for tests."""
