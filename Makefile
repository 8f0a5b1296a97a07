.PHONY: setup serve chat test lint

setup:
	./scripts/setup

# Starts the gateway on its embedded defaults: 127.0.0.1:4000, the automatic cascade (OpenAI and
# Anthropic when their keys are set, then the bundled local model), in-memory state, ./keel.db.
# `make serve PORT=4100` serves on another port.
PORT ?=
serve: setup
	.venv/bin/keel serve $(if $(PORT),--port $(PORT))

# Asks the same cascade one question from the command line.
chat: setup
	.venv/bin/keel chat --verbose "In one sentence, what is a gateway?"

test: setup
	./scripts/test

lint:
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
