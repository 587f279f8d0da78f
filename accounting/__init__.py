"""The domain of parkcarbon: pure functions and dataclasses over numbers and numpy arrays.

Nothing in this package does I/O or imports Kafka, Faust, psycopg, FastAPI or the rest of the
project; every other package calls it.
"""
