"""Compile every Django template of a baked project; run inside the bake with its settings.

Usage (from the project folder): python <this file>
Prints one line per template and a final `compiled N of M templates`; exits 1 when
any template does not compile (unknown tag or library, bad syntax).
"""

import os
import sys
from pathlib import Path

SKIPPED_FOLDERS = {".venv", ".data", "node_modules", "staticfiles"}


def template_files(project: Path) -> list[Path]:
    """Every file below a `templates` folder of the project, shadowed ones included."""
    files: list[Path] = []
    for folder in project.rglob("templates"):
        if not folder.is_dir() or SKIPPED_FOLDERS.intersection(folder.relative_to(project).parts):
            continue
        files += [path for path in folder.rglob("*") if path.is_file()]
    return sorted(set(files))


def main() -> int:
    project = Path.cwd()
    sys.path.insert(0, str(project))
    import django
    from django.template import TemplateSyntaxError, engines

    django.setup()
    # The project's own engine, so that its builtins and {% load %} libraries apply.
    engine = engines["django"].engine  # type: ignore[attr-defined]
    files = template_files(project)
    failures = 0
    for path in files:
        name = path.relative_to(project)
        try:
            engine.from_string(path.read_text())
        except TemplateSyntaxError as error:
            failures += 1
            print(f"FAILED {name}: {error}")
        else:
            print(f"ok {name}")
    print(
        f"compiled {len(files) - failures} of {len(files)} templates (settings {os.environ['DJANGO_SETTINGS_MODULE']})"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
