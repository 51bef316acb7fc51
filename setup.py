"""The outsource-plugin distribution.

The repository keeps ``adapters/``, ``blueprints/`` and ``jobs/`` at the top
level, as designed, but installs them under the single import namespace
``outsource_plugin`` so that nothing else lands in site-packages.
"""

from setuptools import setup

#: the core's layer packages (docs/architecture.md), each a folder of outsource_plugin/
LAYERS = ["cli", "core", "db", "federation", "host", "ops", "sync", "validation"]
PACKAGES = {
    "outsource_plugin": "outsource_plugin",
    **{f"outsource_plugin.{layer}": f"outsource_plugin/{layer}" for layer in LAYERS},
    "outsource_plugin.adapters": "adapters",
    "outsource_plugin.blueprints": "blueprints",
    "outsource_plugin.jobs": "jobs",
}

setup(
    name="outsource-plugin",
    version="0.1.0",
    description="Outsource help-desk tickets to partner organisations and take in theirs: a Flask extension.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={
        "outsource_plugin": ["py.typed"],
        "outsource_plugin.db": ["migrations/*.py", "migrations/script.py.mako", "migrations/versions/*.py"],
        "outsource_plugin.blueprints": ["templates/outsource/*.html", "static/outsource/*"],
    },
    include_package_data=False,
    zip_safe=False,
    install_requires=[
        # Each lower bound is the version tests/oldest-versions.txt pins and make test runs on.
        "flask>=2.3.2",
        "werkzeug>=2.3.8",
        "flask-sqlalchemy>=3.0.5",
        "sqlalchemy>=2.0.0",
        "marshmallow>=3.19.0",
        "apscheduler>=3.10.0,<4",
        "requests>=2.30.0",
        "blinker>=1.6.2",
        "alembic>=1.12.0",
        "cryptography>=41.0.0",
        "apispec>=6.3.0",
        # the e-mail partner cuts quoted history and signatures from replies with it
        "mail-parser-reply>=1.36",
    ],
    extras_require={
        "postgres": ["psycopg[binary]>=3.2"],
        "metrics": ["prometheus-client>=0.17"],
        "demo": ["waitress>=3.0"],
        "dev": [
            "pytest>=7.4",
            "ruff>=0.5",
            "mypy>=1.8",
            "import-linter>=2.1",
            "types-requests",
            "build",
            "wheel",
            "playwright>=1.40",
            "hypothesis>=6.90",
            "schemathesis>=4.0",
            "openapi-spec-validator>=0.7",
            "prometheus-client>=0.17",
            "aiosmtpd>=1.4",
            # the third test host (tests/third_host) signs users in and migrates its own tables with them
            "flask-login>=0.6.3",
            "flask-migrate>=4.0.5",
        ],
    },
    entry_points={
        "outsource_plugin.adapters": [
            "email = outsource_plugin.adapters.email:EmailAdapter",
            "memory = outsource_plugin.adapters.memory:MemoryAdapter",
            "peer = outsource_plugin.adapters.peer:PeerAdapter",
            "redmine = outsource_plugin.adapters.redmine:RedmineAdapter",
            "request_tracker = outsource_plugin.adapters.request_tracker:RequestTrackerAdapter",
        ],
    },
    classifiers=[
        "Framework :: Flask",
        "Programming Language :: Python :: 3",
        "Typing :: Typed",
    ],
)
