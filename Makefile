# The two commands of the README: `make up` runs the platform, `make test` runs the tests.
# Both install what is missing first (deploy/bootstrap.sh).
PC := .venv/bin/parkcarbon

.PHONY: bootstrap up test lint stack-start stack-stop stack-status bench

bootstrap:
	@bash deploy/bootstrap.sh

up: bootstrap
	$(PC) up

stack-start: bootstrap
	$(PC) stack start
	$(PC) db migrate
	$(PC) topics create

test: stack-start
	.venv/bin/pytest

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

stack-stop:
	$(PC) stack stop

stack-status:
	$(PC) stack status
