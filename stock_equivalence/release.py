"""A new release of migrations, generated into a throwaway copy of two apps' migration packages.

`Release(full=...)` copies the migration packages of the products app (a tenant app) and the accounts app
(a shared app, home of settings.AUTH_USER_MODEL) into a temporary directory on sys.path and adds the
release's migration files to the copies; `Release.installed()` points settings.MIGRATION_MODULES at
them. Nothing under the project's own folders changes. The models exist in migration state only.

The full release covers, in one chain with a cross-app dependency: AddField of each common type (char
with a default, nullable integer, foreign keys to a tenant model and to the user model, many-to-many,
unique, db_index, JSON, decimal), AlterField (type, null, default, max_length), RenameField,
RemoveField, CreateModel and DeleteModel with many-to-many fields, RenameModel, AddIndex and
RemoveIndex, check / unique / conditional unique AddConstraint and RemoveConstraint, RunSQL (a view, a
trigger) and RunPython with their reverses, SeparateDatabaseAndState, and a squashed migration
(`replaces=`, in the "squashed" variant only). The small release is its first four migrations (for the
default test run).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

from django.db.migrations.loader import MigrationLoader
from django.test.utils import override_settings

from .project import PROJECT, project_module

APPS = ("accounts", "products")
current_graph = project_module("fleet.plan").current_graph
HEADER = """import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


"""
FK = "django.db.models.deletion"

# Sources of the release's migrations (the Migration class and its helpers; HEADER holds the imports).
ACCOUNTS_0004 = """
class Migration(migrations.Migration):
    dependencies = [("accounts", "@@accounts_leaf@@")]
    operations = [
        migrations.AddField("user", "vm_nickname", models.CharField(max_length=30, default="")),
        migrations.AddIndex("user", models.Index(fields=["vm_nickname"], name="acc_user_nickname_idx")),
        migrations.AddField("membership", "vm_note", models.TextField(blank=True, default="")),
    ]
"""

PRODUCTS_0004 = f"""
class Migration(migrations.Migration):
    dependencies = [
        ("products", "@@products_leaf@@"),
        ("accounts", "0004_release_user_fields"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.AddField("product", "vm_note", models.CharField(max_length=40, default="n/a")),
        migrations.AddField("product", "vm_weight", models.IntegerField(null=True)),
        migrations.AddField("product", "vm_shelf_category", models.ForeignKey(
            null=True, on_delete={FK}.SET_NULL, related_name="+", to="products.category")),
        migrations.AddField("product", "vm_buyer", models.ForeignKey(
            null=True, on_delete={FK}.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
        migrations.AddField("product", "vm_similar", models.ManyToManyField(
            blank=True, related_name="+", to="products.category")),
        migrations.AddField("product", "vm_code", models.CharField(max_length=20, null=True, unique=True)),
        migrations.AddField("product", "vm_ean", models.CharField(max_length=13, db_index=True, default="")),
        migrations.AddField("product", "vm_attributes", models.JSONField(default=dict)),
        migrations.AddField("product", "vm_cost", models.DecimalField(max_digits=8, decimal_places=3, null=True)),
    ]
"""

PRODUCTS_0005 = """
class Migration(migrations.Migration):
    dependencies = [("products", "0004_release_fields")]
    operations = [
        migrations.CreateModel("VmTag", fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
            ("name", models.CharField(max_length=50, unique=True)),
            ("products", models.ManyToManyField(related_name="vm_tags", to="products.product")),
        ]),
        migrations.CreateModel("VmShelf", fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
            ("label", models.CharField(max_length=20)),
            ("products", models.ManyToManyField(related_name="vm_shelves", to="products.product")),
        ]),
        migrations.AddIndex("product", models.Index(fields=["name", "vm_ean"], name="prod_name_ean_idx")),
        migrations.AddConstraint("product", models.CheckConstraint(
            condition=models.Q(vm_weight__gte=0), name="prod_weight_not_negative")),
        migrations.AddConstraint("product", models.UniqueConstraint(
            fields=["name", "vm_shelf_category"], name="prod_name_per_category")),
        migrations.AddConstraint("product", models.UniqueConstraint(
            fields=["vm_ean"], condition=models.Q(active=True) & ~models.Q(vm_ean=""), name="prod_active_ean_unique")),
        migrations.RunSQL(
            "CREATE VIEW vm_products_active AS SELECT id, name FROM products_product WHERE active",
            reverse_sql="DROP VIEW vm_products_active",
        ),
    ]
"""

PRODUCTS_0006 = """
def notes_fill(apps, schema_editor):
    Product = apps.get_model("products", "Product")
    Product.objects.using(schema_editor.connection.alias).update(vm_note="filled")


class Migration(migrations.Migration):
    dependencies = [("products", "0005_release_tags")]
    operations = [
        migrations.RemoveConstraint("product", "prod_weight_not_negative"),
        migrations.AlterField("product", "vm_note", models.CharField(max_length=80, default="none")),
        migrations.AlterField("product", "vm_weight", models.BigIntegerField(null=True)),
        migrations.AlterField(
            "product", "vm_ean", models.CharField(max_length=13, db_index=True, null=True, default="")
        ),
        migrations.AlterField("product", "vm_cost", models.DecimalField(max_digits=10, decimal_places=3, default=0)),
        migrations.RenameField("product", "vm_weight", "vm_grams"),
        migrations.RemoveField("product", "vm_code"),
        migrations.RunPython(notes_fill, migrations.RunPython.noop),
    ]
"""

ACCOUNTS_0005 = """
class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_release_user_fields")]
    operations = [migrations.RenameField("user", "vm_nickname", "vm_handle")]
"""

PRODUCTS_0007 = """
def tags_create(apps, schema_editor):
    Tag = apps.get_model("products", "VmTag")
    Tag.objects.using(schema_editor.connection.alias).bulk_create([Tag(name="new"), Tag(name="sale")])


def tags_delete(apps, schema_editor):
    Tag = apps.get_model("products", "VmTag")
    Tag.objects.using(schema_editor.connection.alias).filter(name__in=["new", "sale"]).delete()


class Migration(migrations.Migration):
    dependencies = [("products", "0006_release_alter"), ("accounts", "0005_release_rename")]
    operations = [
        migrations.RunPython(tags_create, tags_delete),
        migrations.RenameModel("VmTag", "Label"),
        migrations.RemoveIndex("product", "prod_name_ean_idx"),
        migrations.DeleteModel("VmShelf"),
    ]
"""

PRODUCTS_0008 = """
class Migration(migrations.Migration):
    dependencies = [("products", "0007_release_data")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(
                "ALTER TABLE products_product ADD COLUMN vm_legacy_code varchar(10) NULL",
                reverse_sql="ALTER TABLE products_product DROP COLUMN vm_legacy_code",
            )],
            state_operations=[
                migrations.AddField("product", "vm_legacy_code", models.CharField(max_length=10, null=True)),
            ],
        ),
        migrations.RunSQL(
            [
                "CREATE FUNCTION vm_products_touch() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN NEW.updated := now(); RETURN NEW; END $$",
                "CREATE TRIGGER vm_products_touch BEFORE UPDATE ON products_product "
                "FOR EACH ROW EXECUTE FUNCTION vm_products_touch()",
            ],
            reverse_sql=["DROP TRIGGER vm_products_touch ON products_product", "DROP FUNCTION vm_products_touch()"],
        ),
    ]
"""

PRODUCTS_0009 = """
class Migration(migrations.Migration):
    dependencies = [("products", "0008_release_separate")]
    operations = [
        migrations.AddField(
            "product", "vm_sale_price", models.DecimalField(max_digits=10, decimal_places=2, null=True)
        ),
    ]
"""

PRODUCTS_0010 = """
class Migration(migrations.Migration):
    dependencies = [("products", "0009_release_sale")]
    operations = [migrations.AddIndex("product", models.Index(fields=["vm_sale_price"], name="prod_sale_price_idx"))]
"""

PRODUCTS_0011 = """
class Migration(migrations.Migration):
    dependencies = [("products", "0010_release_sale_index")]
    operations = [
        migrations.AddField("product", "vm_rank", models.PositiveSmallIntegerField(default=0)),
        migrations.AlterField("product", "vm_note", models.CharField(max_length=80, default="vm_rank")),
    ]
"""

# (app, migration name, source); the order is the chain's order.
MIGRATIONS: list[tuple[str, str, str]] = [
    ("accounts", "0004_release_user_fields", ACCOUNTS_0004),
    ("products", "0004_release_fields", PRODUCTS_0004),
    ("products", "0005_release_tags", PRODUCTS_0005),
    ("products", "0006_release_alter", PRODUCTS_0006),
    ("accounts", "0005_release_rename", ACCOUNTS_0005),
    ("products", "0007_release_data", PRODUCTS_0007),
    ("products", "0008_release_separate", PRODUCTS_0008),
    ("products", "0009_release_sale", PRODUCTS_0009),
    ("products", "0010_release_sale_index", PRODUCTS_0010),
    ("products", "0011_release_rank", PRODUCTS_0011),
]
SMALL = 4  # the small release: MIGRATIONS[:SMALL]
# Replaces 0009 and 0010 with the same operations; only in the "squashed" variant of the full release.
PRODUCTS_SQUASHED = """
class Migration(migrations.Migration):
    replaces = [("products", "0009_release_sale"), ("products", "0010_release_sale_index")]
    dependencies = [("products", "0008_release_separate")]
    operations = [
        migrations.AddField(
            "product", "vm_sale_price", models.DecimalField(max_digits=10, decimal_places=2, null=True)
        ),
        migrations.AddIndex("product", models.Index(fields=["vm_sale_price"], name="prod_sale_price_idx")),
    ]
"""
SQUASHED = ("products", "0009_squashed_0010_release_sale", PRODUCTS_SQUASHED)


def shipped_leaves() -> dict[str, str]:
    """The latest migration of each app of APPS as the project has it now (its own migrations included): the
    release starts from there. Raises RuntimeError when an app has more than one (run makemigrations --merge)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    leaves = {}
    for app in APPS:
        nodes = graph.leaf_nodes(app)
        if len(nodes) != 1:
            raise RuntimeError(f"app {app!r} has {len(nodes)} latest migrations {nodes}; expected one (merge them)")
        leaves[app] = nodes[0][1]
    return leaves


class Release:
    """Migration packages for `APPS`: as shipped plus the release (`full` or the small one), in `root`.

    Variants: "release", and with `full` "squashed" (the release plus SQUASHED; a schema of the fleet
    built with "release" may hold both, one or none of the migrations it replaces). Call `remove()` when
    done.
    """

    def __init__(self, *, full: bool) -> None:
        self.full = full
        self.root = Path(tempfile.mkdtemp(prefix="diffmig_"))
        self.token = secrets.token_hex(4)
        self.migrations = MIGRATIONS if full else MIGRATIONS[:SMALL]
        self.leaves = shipped_leaves()
        sys.path.insert(0, str(self.root))
        variants = ("release", "squashed") if full else ("release",)
        self.packages = {variant: self._write(variant) for variant in variants}

    @property
    def names(self) -> list[tuple[str, str]]:
        """(app, name) of the release's migrations, in order (without the squashed one)."""
        return [(app, name) for app, name, _ in self.migrations]

    def _write(self, variant: str) -> str:
        package = f"diffmig_{self.token}_{variant}"
        (self.root / package).mkdir()
        (self.root / package / "__init__.py").write_text("")
        extra = [SQUASHED] if variant == "squashed" else []
        for app in APPS:
            shipped = Path(import_module(f"{PROJECT}.{app}.migrations").__path__[0])
            target = self.root / package / app
            shutil.copytree(shipped, target, ignore=shutil.ignore_patterns("__pycache__"))
            for migration_app, name, body in [*self.migrations, *extra]:
                if migration_app == app:
                    for leaf_app, leaf in self.leaves.items():
                        body = body.replace(f"@@{leaf_app}_leaf@@", leaf)
                    (target / f"{name}.py").write_text(HEADER + body.lstrip("\n"))
        return package

    @contextlib.contextmanager
    def installed(self, variant: str = "release") -> Iterator[dict[str, str]]:
        """settings.MIGRATION_MODULES pointed at `variant`'s packages while the block runs; yields them."""
        modules = {app: f"{self.packages[variant]}.{app}" for app in APPS}
        current_graph.cache_clear()  # an lru_cache of the graph on disk
        try:
            with override_settings(MIGRATION_MODULES=modules):
                yield modules
        finally:
            current_graph.cache_clear()

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(self.root))
        for module in [name for name in sys.modules if name.startswith(f"diffmig_{self.token}")]:
            del sys.modules[module]
        shutil.rmtree(self.root, ignore_errors=True)
