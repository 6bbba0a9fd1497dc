.PHONY: dashboard test bench serve

# Set up .venv and start the dashboard on the embedded default (local service, no AWS account).
dashboard:
	bash scripts/setup.sh
	.venv/bin/python -m streamlit run dashboard.py

# Set up .venv (with test dependencies and chromium) and run the whole test suite.
test:
	bash scripts/setup.sh --test
	.venv/bin/python -m pytest

# The local service alone.
serve:
	bash scripts/setup.sh
	.venv/bin/python -m peoplepath serve --host 127.0.0.1 --port 8765 --data-dir .peoplepath

bench:
	bash scripts/setup.sh --test
	for b in bench/bench_*.py; do .venv/bin/python $$b || exit 1; done
