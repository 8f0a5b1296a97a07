.PHONY: setup chat test lint bench

setup:
	./scripts/setup

# Starts the gateway on its embedded defaults: the automatic cascade (OpenAI when OPENAI_API_KEY is
# set, then the local model), in-memory state.
chat: setup
	.venv/bin/keel chat --verbose "In one sentence, what is a gateway?"

test: setup
	./scripts/test

lint:
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
