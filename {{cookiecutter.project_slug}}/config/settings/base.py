"""Settings shared by every environment.

Environment variables are read with django-environ. `.env` in the project root is loaded first
when it exists (real environment variables win) by the local and test settings; the production
settings read it only when DJANGO_READ_DOT_ENV_FILE=True is set in the environment.
"""

import re
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
APPS_DIR = BASE_DIR / "{{ cookiecutter.project_slug }}"

env = environ.Env()
# `.env` holds a development secret key: production settings (being imported when this module runs for them)
# ignore it unless DJANGO_READ_DOT_ENV_FILE=True, so a secret missing from the environment fails loudly.
READ_DOT_ENV_FILE = env.bool("DJANGO_READ_DOT_ENV_FILE", default="config.settings.production" not in sys.modules)
if READ_DOT_ENV_FILE:
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
TIME_ZONE = "{{ cookiecutter.timezone }}"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# Tenancy (django-tenants)
# ------------------------------------------------------------------------------
# Shared apps live in the public schema; tenant apps get one copy per tenant schema.
# The project's packages come before django_tenants and django.contrib.auth so that their
# management commands (migrate_schemas, migrate, create_tenant, shell, createsuperuser, ...) win
# over the stock ones: Django resolves a command name to the first app in INSTALLED_APPS that has it.
# Tenancy, accounts, billing and audit have models; the other packages are apps for their commands, templates
# and tasks (each package's __init__.py says what it owns).
SHARED_APPS = [
    "{{ cookiecutter.project_slug }}.tenancy",
    "{{ cookiecutter.project_slug }}.fleet",
    "{{ cookiecutter.project_slug }}.lifecycle",
    "{{ cookiecutter.project_slug }}.adoption",
    "{{ cookiecutter.project_slug }}.platform",
    "{{ cookiecutter.project_slug }}.demo",
    "django_tenants",
    "{{ cookiecutter.project_slug }}.accounts",
    # Plans, plan limits and subscriptions (public schema); Stripe webhooks on the public host.
    "{{ cookiecutter.project_slug }}.billing",
    # Audit log of destructive and privileged operations (public schema).
    "{{ cookiecutter.project_slug }}.audit",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    # Generic account flows: login, logout, password reset, email verification.
    "allauth",
    "allauth.account",
{%- if cookiecutter.use_drf == "y" %}
    "rest_framework",
    "drf_spectacular",
    # Swagger UI served from our own static files (/api/docs/ loads nothing from a CDN).
    "drf_spectacular_sidecar",
{%- endif %}
]

TENANT_APPS = [
    # Each tenant schema keeps its own content types and admin log; the admin log
    # refers to the global user table in the public schema by id, without a
    # foreign key (bookings migration 0004).
    "django.contrib.contenttypes",
    "django.contrib.admin",
    "{{ cookiecutter.project_slug }}.products",
    "{{ cookiecutter.project_slug }}.customers",
    "{{ cookiecutter.project_slug }}.bookings",
]

INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenancy.Tenant"
TENANT_DOMAIN_MODEL = "tenancy.Domain"
PUBLIC_SCHEMA_NAME = "public"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
ROOT_URLCONF = "config.urls_tenants"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"

# Base domain of tenant hosts: a tenant with slug `acme` answers on `acme.<base>`.
TENANCY_BASE_DOMAIN = env("TENANCY_BASE_DOMAIN", default="localhost")
# How requests find their tenant (tenancy/middleware.py): "domain", by host name (`acme.<base>`), or "path",
# on the public host under `/<TENANCY_PATH_PREFIX>/<slug>/` (a tenant's custom domain still routes by host).
# TENANCY_PATH_PREFIX is one lowercase URL segment no project URL starts with (system check tenancy.E005).
TENANCY_ROUTING = "{{ cookiecutter.tenant_routing }}"
TENANCY_PATH_PREFIX = "{{ cookiecutter.tenant_path_prefix }}"
# Slugs that may never name a tenant, and prefixes no slug may start with
# (`pg_` is reserved by PostgreSQL for system schemas).
TENANCY_RESERVED_SLUGS = ["public", "www", "admin", "api", "static", "media", "tenant"]
TENANCY_RESERVED_SLUG_PREFIXES = ["pg_", "pg-"]
# Spare-schema pool: schemas migrated ahead of time, renamed to `tenant_<slug>` when a tenant
# is provisioned (lifecycle/provisioning.py). 0 turns the pool off: every tenant is then
# provisioned by running its migrations.
TENANCY_SPARE_SCHEMAS = env.int("TENANCY_SPARE_SCHEMAS", default=3)
# How the pool is refilled after a spare is claimed: "celery" (task tenancy.spare_pool_refill),
# "thread" (a background thread of the provisioning process) or "off" (only `migrate_schemas`
# refills it, at the end of every full run).
{%- if cookiecutter.use_celery == "y" %}
TENANCY_SPARE_REFILL = env("TENANCY_SPARE_REFILL", default="celery")
{%- else %}
TENANCY_SPARE_REFILL = env("TENANCY_SPARE_REFILL", default="thread")
{%- endif %}
# Seconds a one-time login token (sign-up, tenant picker and switcher) stays valid: at most 60.
TENANCY_LOGIN_TOKEN_SECONDS = 60
# Hours an invitation link (members page) stays valid; each link is single use.
TENANCY_INVITATION_HOURS = env.int("TENANCY_INVITATION_HOURS", default=72)
# Where `drop_schema` and `backup_tenant` write pg_dump files (custom format).
TENANCY_BACKUP_DIR = env("TENANCY_BACKUP_DIR", default=str(BASE_DIR / "backups"))
# Folder holding pg_dump, pg_restore and psql of the database server's major version; when
# empty, they are looked up (embedded server's binaries, /usr/lib/postgresql/<major>/bin, PATH).
TENANCY_PG_BIN_DIR = env("TENANCY_PG_BIN_DIR", default="")
# products.services.low_stock_flag flags active products with fewer units in stock than this.
PRODUCTS_LOW_STOCK_THRESHOLD = 5

# ------------------------------------------------------------------------------
# Plans and billing (docs/billing.md)
# ------------------------------------------------------------------------------
# "none": plans change in the platform admin or with `manage.py subscription` (no keys needed);
# "stripe": Stripe Checkout and the customer portal, subscription state from Stripe's webhooks.
BILLING_PROVIDER = env("BILLING_PROVIDER", default="none")
# Days an overdue tenant (invoice failed, or a trial ended unpaid) keeps working, with a banner, before it
# becomes read-only (a decimal number; 0: read-only at once).
BILLING_GRACE_DAYS = env.float("BILLING_GRACE_DAYS", default=7.0)
# Whether tenant admins, besides owners, may see and change billing.
BILLING_ADMINS_MANAGE = env.bool("BILLING_ADMINS_MANAGE", default=False)
# Stripe (BILLING_PROVIDER=stripe): the secret API key, the webhook endpoint's signing secret, and the price id
# of each plan and interval as `<plan>:<month|year>=<price id>` pairs separated by commas, e.g.
# STRIPE_PRICE_IDS=starter:month=price_123,starter:year=price_456,pro:month=price_789
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_PRICE_IDS = env("STRIPE_PRICE_IDS", default="")
# Base URL of Stripe's API; tests point it at a local stand-in for Stripe's servers. Empty: Stripe's own.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Seconds a webhook's signed timestamp may be old (Stripe's own default tolerance is 300).
STRIPE_WEBHOOK_TOLERANCE = 300

# ------------------------------------------------------------------------------
# Database
# ------------------------------------------------------------------------------
# Environment modules (local, test, production) set DATABASE_URL before calling
# database_settings(); local and test fall back to an embedded PostgreSQL.


def database_settings(url: str) -> dict:
    """Return Django's DATABASES for `url` (postgres://user:pass@host:port/name) on the tenant backend."""
    config = env.db_url_config(url, engine="django_tenants.postgresql_backend")
    config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    config["ATOMIC_REQUESTS"] = False
    if not TENANCY_POOLER_MODE:
        # The session time zone Django wants (UTC, as USE_TZ = True) in the connection's start-up packet, so that
        # a new connection does not send `SELECT set_config('TimeZone', 'UTC', false)` first (Django's
        # ensure_timezone does when the server's default differs). Left out behind a pooler: PgBouncer refuses
        # start-up parameters it does not know unless told to ignore them (its ignore_startup_parameters).
        options = config.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c TimeZone=UTC".strip()
    if TENANCY_POOLER_MODE == "transaction":
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return {"default": config}


# django-tenants issues `SET search_path` only when the schema changes, not before every cursor:
# with the routing below, a request costs at most one routing statement (tenancy/routing.py).
TENANT_LIMIT_SET_CALLS = True
# Host name -> tenant directory, per process (tenancy/routing.py): host names kept. Entries need no expiry:
# each request compares the routing version that database triggers bump with every tenant or domain change.
TENANCY_ROUTING_CACHE_SIZE = 10_000
# A database connection that served this many distinct tenant schemas is closed after the request or
# task, bounding the catalog cache a PostgreSQL backend keeps per schema (0: never).
TENANCY_CONNECTION_MAX_SCHEMAS = env.int("TENANCY_CONNECTION_MAX_SCHEMAS", default=200)
# Database connections per server process that requests borrow by host (tenancy/routing.py, ConnectionSlots),
# so each connection stays warm for its share of the tenants; 0: each server thread uses its own connection.
# Off here (development, tests: a test's transaction lives on the thread's own connection); on in production.
TENANCY_CONNECTION_SLOTS = env.int("TENANCY_CONNECTION_SLOTS", default=0)
# A connection pooler between Django and PostgreSQL: "" (none), "session" or "transaction" (PgBouncer's
# pool_mode). Transaction mode is refused by a system check unless the pooler restores each client's
# search_path (docs/deployment.md, "Connection poolers").
TENANCY_POOLER_MODE = env("TENANCY_POOLER_MODE", default="")
TENANCY_POOLER_TRACKS_SEARCH_PATH = env.bool("TENANCY_POOLER_TRACKS_SEARCH_PATH", default=False)


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# Cache
# ------------------------------------------------------------------------------
# Every key starts with the current schema name (KEY_FUNCTION), `cache_page` entries included: two
# tenants never read each other's entries, even for the same key or the same URL (a domain moved from
# one tenant to another). Environment modules call cache_settings(); this default is in-process.
CACHE_KEY_FUNCTION = "django_tenants.cache.make_key"
{%- if cookiecutter.use_celery == "y" %}
# Redis may be down or frozen without a page answering 5xx (config/redis_cache.py; docs/operations.md, "Redis outages").
# Seconds to connect and per call (redis-py's socket_connect_timeout, socket_timeout): the most a frozen
# Redis adds to a request. After a failure a process leaves Redis alone for REDIS_BREAKER_SECONDS, its cache
# answering misses, except rate-limit counters (django-allauth's "allauth:rl:" keys: logins, password
# resets; the project's "ratelimit:" keys: sign-ups, admin logins, invitations, login tokens), which it keeps
# in its own memory meanwhile: limits then hold per process.
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=0.05)
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.1)
REDIS_BREAKER_SECONDS = env.float("REDIS_BREAKER_SECONDS", default=5.0)
CACHE_LOCAL_KEY_PREFIXES = ["allauth:rl:", "ratelimit:"]


def cache_settings(redis_url: str = "") -> dict:
    """Return Django's CACHES: Redis at `redis_url` when given, else an in-process cache; keys are per tenant.

    The Redis cache is config.redis_cache.ResilientRedisCache: a Redis outage is a cache miss, never an error.
    """
    if redis_url:
        default = {
            "BACKEND": "config.redis_cache.ResilientRedisCache",
            "LOCATION": redis_url,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
                "BREAKER_SECONDS": REDIS_BREAKER_SECONDS,
                "LOCAL_KEY_PREFIXES": CACHE_LOCAL_KEY_PREFIXES,
            },
        }
    else:
        default = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {"default": {**default, "KEY_FUNCTION": CACHE_KEY_FUNCTION}}
{%- else %}


def cache_settings() -> dict:
    """Return Django's CACHES: an in-process cache (each process has its own); keys are per tenant."""
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_FUNCTION": CACHE_KEY_FUNCTION}}
{%- endif %}


CACHES = cache_settings()

# ------------------------------------------------------------------------------
# Users
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Sessions with their user and login family in columns: logging out on one host logs the
# browser out of every host it crossed to (accounts/sessions.py).
SESSION_ENGINE = "{{ cookiecutter.project_slug }}.accounts.sessions"

# django-allauth (https://docs.allauth.org/en/latest/account/configuration.html): email logins,
# no usernames. Its own sign-up is closed (accounts.adapter): people join through /signup/ or an
# invitation. "optional" sends a verification link and lets unverified users in; "mandatory"
# lets them in only once verified.
ACCOUNT_ADAPTER = "{{ cookiecutter.project_slug }}.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "{{ cookiecutter.project_slug }}.accounts.forms.TenantLoginForm",
    # Refuses an address of another account, whatever its case (allauth would add it unverified).
    "add_email": "{{ cookiecutter.project_slug }}.accounts.forms.UniqueAddEmailForm",
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# New and changed passwords are hashed with Argon2 (argon2-cffi); the others verify passwords hashed
# elsewhere (bcrypt from an imported user table, PBKDF2 from earlier versions) and are upgraded at login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ------------------------------------------------------------------------------
# Rate limits (accounts/ratelimits.py; docs/security.md, "Rate limits")
# ------------------------------------------------------------------------------
# Counted in CACHES["default"] (Redis; per process while Redis is down, see Cache above). A refused request
# answers 429 with Retry-After (seconds). Each rate is "<count>/<period>": period s, m, h or d, optionally
# with a multiplier ("5/10m": five per ten minutes); django-allauth's rates may add "/ip", "/key" (the email)
# or "/user" and list several, comma-separated ("10/m/ip,5/5m/key").
_RATE = r"\d+/\d*[smhd]"


def rate_setting(name: str, default: str, *, allauth: bool = False) -> str:
    """Read rate limit `name` from the environment (else `default`) and check its form; raise
    ImproperlyConfigured naming the value and the accepted form when it is malformed."""
    value = env(name, default=default).strip()
    single = rf"{_RATE}(/(ip|key|user))?" if allauth else _RATE
    pattern = rf"{single}(\s*,\s*{single})*" if allauth else single
    if not re.fullmatch(pattern, value):
        accepted = '"<count>/<period>[/ip|key|user]", comma-separated' if allauth else '"<count>/<period>"'
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate; expected {accepted} with period s, m, h or d, e.g. {default!r}"
        )
    return value


# Sign-ups that reach provisioning (a valid form), per client IP; a refused one creates nothing.
RATE_LIMIT_SIGNUP = rate_setting("RATE_LIMIT_SIGNUP", "5/10m")
# Failed logins to the platform admin (/admin/ on the public host) per client IP and account; once reached,
# every login of that account from that IP is refused (429), a right password included, until the window ends.
RATE_LIMIT_ADMIN_LOGIN_FAILURES = rate_setting("RATE_LIMIT_ADMIN_LOGIN_FAILURES", "10/15m")
# Requests to invitation links (/invitations/<token>/), per client IP.
RATE_LIMIT_INVITATION = rate_setting("RATE_LIMIT_INVITATION", "30/10m")
# Wrong passwords when accepting an invitation with an existing account, per account; then refused (429).
RATE_LIMIT_INVITATION_PASSWORD_FAILURES = rate_setting("RATE_LIMIT_INVITATION_PASSWORD_FAILURES", "5/15m")
# Invitations sent from the members page, per inviting member (each sends an email).
RATE_LIMIT_INVITATION_SEND = rate_setting("RATE_LIMIT_INVITATION_SEND", "20/h")
# Refused one-time login links (/accounts/token/<token>/: unknown, used, expired), per client IP.
RATE_LIMIT_LOGIN_TOKEN_FAILURES = rate_setting("RATE_LIMIT_LOGIN_TOKEN_FAILURES", "20/10m")
# Workspace switches (POST /accounts/switch/, each issues a login token), per user.
RATE_LIMIT_LOGIN_TOKEN_ISSUE = rate_setting("RATE_LIMIT_LOGIN_TOKEN_ISSUE", "30/10m")
# django-allauth's own limits (https://docs.allauth.org/en/latest/account/rate_limits.html), merged into its
# defaults. A failed-login limit shows "Too many failed login attempts" on the form; the others answer 429.
ACCOUNT_RATE_LIMITS = {
    "login": rate_setting("RATE_LIMIT_LOGIN", "30/m/ip", allauth=True),
    "login_failed": rate_setting("RATE_LIMIT_LOGIN_FAILED", "10/m/ip,5/5m/key", allauth=True),
    "reset_password": rate_setting("RATE_LIMIT_RESET_PASSWORD", "20/m/ip,5/m/key", allauth=True),
    "reset_password_from_key": rate_setting("RATE_LIMIT_RESET_PASSWORD_FROM_KEY", "20/m/ip", allauth=True),
    "manage_email": rate_setting("RATE_LIMIT_MANAGE_EMAIL", "10/m/user", allauth=True),
    "change_password": rate_setting("RATE_LIMIT_CHANGE_PASSWORD", "5/m/user", allauth=True),
}
# django-ratelimit (counting only; accounts/ratelimits.py says why not its decorator or app): its counters'
# cache and key prefix (kept per process during a Redis outage, CACHE_LOCAL_KEY_PREFIXES), and the client
# IP taken as django-allauth takes it (ALLAUTH_TRUSTED_PROXY_COUNT behind a proxy).
RATELIMIT_USE_CACHE = "default"
RATELIMIT_CACHE_PREFIX = "ratelimit:"
RATELIMIT_IP_META_KEY = "{{ cookiecutter.project_slug }}.accounts.ratelimits.client_ip"
# Absolute links to the public host (password reset and email confirmation mails; tenant hosts send
# /accounts/password/reset/ and /accounts/email/ there): scheme ACCOUNT_DEFAULT_HTTP_PROTOCOL, the public
# tenant's primary domain, and this port (0: the scheme's default), never the port of a request's Host header.
TENANCY_PUBLIC_PORT = env.int("TENANCY_PUBLIC_PORT", default=0)
# The scheme of those links (django-allauth's setting; production.py sets https).
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"

# ------------------------------------------------------------------------------
# HTTP
# ------------------------------------------------------------------------------
MIDDLEWARE = [
    # First: answers /healthz on any Host, then routes the request to its tenant.
    "{{ cookiecutter.project_slug }}.tenancy.middleware.TenantRoutingMiddleware",
    # The request (its user, client IP) is the origin of audit events recorded while it is handled.
    "{{ cookiecutter.project_slug }}.audit.context.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the app server itself (compressed, cache-busted names in production).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Django's CSRF check, its token kept per tenant schema in the session (one session serves every tenant
    # in path routing).
    "{{ cookiecutter.project_slug }}.tenancy.csrf.TenantCsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a user who is not a member of the current tenant is anonymous here.
    "{{ cookiecutter.project_slug }}.accounts.middleware.TenantMembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [str(APPS_DIR / "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "{{ cookiecutter.project_slug }}.accounts.context_processors.tenant",
                "{{ cookiecutter.project_slug }}.accounts.context_processors.billing",
            ],
        },
    },
]

STATIC_URL = "/static/"
STATIC_ROOT: str | None = str(BASE_DIR / "staticfiles")
STATICFILES_DIRS = [str(APPS_DIR / "static")]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media"))
# Uploaded files are stored per tenant, under MEDIA_ROOT/<schema name>/, and served as /media/<name> on
# the tenant's own host to its members only (tenancy/media.py: nothing outside that folder is readable).
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
STORAGES = {
    "default": {"BACKEND": "{{ cookiecutter.project_slug }}.tenancy.media.TenantMediaStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Host-only session and CSRF cookies: a login on one tenant's host never
# reaches another tenant's host.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
# CSRF per host: the token lives in the (host-only) session, not in a cookie. A token taken on one
# tenant's host is refused on another's, and a `csrftoken` cookie planted for the parent domain by a
# sibling host ("cookie tossing") cannot make one valid. In the session it is kept per tenant schema
# (tenancy/csrf.py), so in path routing, one session for every tenant, a token of one tenant's page is
# refused on another's too.
CSRF_USE_SESSIONS = True
# Django's deploy check security.W003 looks for its own CsrfViewMiddleware by name and so warns about the
# project's (tenancy.csrf.TenantCsrfViewMiddleware, a subclass). The system check tenancy.E007
# (tenancy/checks.py) replaces it, run at every start: the project's CSRF middleware must be in MIDDLEWARE,
# after the routing and session middleware.
SILENCED_SYSTEM_CHECKS = ["security.W003"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="{{ cookiecutter.project_name }} <noreply@{{ cookiecutter.domain_name }}>")

ADMINS = [("{{ cookiecutter.author_name }}", "{{ cookiecutter.email }}")]

# Every record carries the tenant's schema and host (`schema_name`, `domain_url`; `public` outside a
# tenant), in requests, commands and Celery workers alike (tenancy.observability.TenantContextFilter).
# DJANGO_LOG_FORMAT: "text" (one line per record) or "json" (one JSON object per line, for log collectors;
# python-json-logger). See tenancy/observability.py.
LOG_FORMAT = env("DJANGO_LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT={LOG_FORMAT!r} is not accepted; expected text or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"tenant_context": {"()": "{{ cookiecutter.project_slug }}.tenancy.observability.TenantContextFilter"}},
    "formatters": {
        "verbose": {"format": "%(levelname)s %(asctime)s [%(schema_name)s:%(domain_url)s] %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(schema_name)s %(domain_url)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["tenant_context"],
            "formatter": "json" if LOG_FORMAT == "json" else "verbose",
        },
    },
    "root": {"level": "INFO", "handlers": ["console"]},
}
{%- if cookiecutter.use_drf == "y" %}

# ------------------------------------------------------------------------------
# REST API (Django REST framework + drf-spectacular)
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # API keys first (accounts/api_key_auth.py: `Authorization: Bearer <key>`), so a request without
    # credentials answers 401 with WWW-Authenticate; browsers use their session on the tenant's host.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "{{ cookiecutter.project_slug }}.accounts.api_key_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "{{ cookiecutter.project_slug }}.api.exception_handler",
    # limit 1-100 (default 50), offset >= 0; anything else is a 400 naming the value (api_support.py).
    "DEFAULT_PAGINATION_CLASS": "{{ cookiecutter.project_slug }}.api_support.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # JSON nested deeper than api_support.JSON_MAX_DEPTH is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "{{ cookiecutter.project_slug }}.api_support.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# /api/docs/ and /api/schema/ are for logged-in members of the host's tenant (or an API key of it);
# True opens them to anyone.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "{{ cookiecutter.project_name }} API",
    "DESCRIPTION": "Per-tenant API: the host name selects the tenant.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["{{ cookiecutter.project_slug }}.api_support.ApiDocsPermission"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
{%- endif %}
{%- if cookiecutter.use_celery == "y" %}

# ------------------------------------------------------------------------------
# Celery (tenant-schemas-celery)
# ------------------------------------------------------------------------------
# Environment modules set CELERY_BROKER_URL from REDIS_URL (embedded Redis in local and test).
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# One message at a time per worker process: a long task never holds others back. Idempotent
# tasks (migrations, the spare pool, low-stock flags, reminders) declare config.celery_app.IDEMPOTENT:
# acknowledged after they return, requeued when the pool process running them dies, retried with
# backoff when the database connection is lost.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Seconds a message taken by a worker may stay unacknowledged before Redis hands it to another worker
# (https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout):
# how long a late-acknowledged task waits after its whole worker was killed (SIGKILL, lost machine).
# Trade-off: a task still running after this long is redelivered and runs twice at once, and so is a
# task waiting for its countdown or ETA; keep it above the hard time limit of every idempotent task
# (tenancy.migrate_schemas_batch: 25 min). Celery's default is one hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=30 * 60)}
# Periodic per-tenant work (`celery -A config.celery_app beat`): the schedule is BEAT_SCHEDULE in
# config/celery_app.py (crontab needs Celery, which settings do not import: management commands and
# migrations start without it). Tenants still provisioning, suspended or archived get nothing.
CELERY_BEAT_SCHEDULER = "{{ cookiecutter.project_slug }}.tenancy.celery_tenancy:ActiveTenantScheduler"
{%- endif %}
