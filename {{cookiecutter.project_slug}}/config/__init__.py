{%- if cookiecutter.use_celery == "y" -%}
"""Project configuration.

Tasks bind to the project's Celery app explicitly (`from config.celery_app import app`, then
`@app.task`), so processes that send no task (management commands, migrations) never import Celery.
"""
{%- else -%}
"""Project configuration."""
{%- endif %}
