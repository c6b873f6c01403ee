"""Settings for every environment, read from environment variables only.

With nothing set, the embedded defaults apply: SQLite, Celery running tasks eagerly in-process,
e-mail printed to the console and the offline payment provider. Production sets
``DEBUG=0``, ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL``, ``REDIS_URL``, ``EMAIL_URL``
and ``STRIPE_*`` (see docker-compose.yml).
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
# The fallback key only ever serves the embedded default; production must provide one.
SECRET_KEY = (
    env("SECRET_KEY", default="embedded-insecure-key-for-local-use-only")
    if DEBUG
    else env("SECRET_KEY")
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "marketplace",
    "experts",
    "projects",
    "payments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "marketplace.middleware.StaffMFARequiredMiddleware",
    "marketplace.middleware.NotFoundMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.context_processors.navigation",
            ],
        },
    },
]

if "DATABASE_URL" not in env:
    # The embedded SQLite database lives in var/, which a fresh clone does not have yet.
    VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'marketplace.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    # The cache gets its own Redis database so clearing it never drops queued tasks.
    REDIS_CACHE_URL = env(
        "REDIS_CACHE_URL", default=urlsplit(REDIS_URL)._replace(path="/1").geturl()
    )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="marketplace"),
        }
    }
else:
    # A real in-process cache: allauth's login rate limits do nothing on the dummy cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "marketplace.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

# django-allauth: e-mail is the login, verification is mandatory.
ACCOUNT_ADAPTER = "marketplace.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "marketplace.forms.RoleSignupForm"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Expert Marketplace] "
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Expert Marketplace"
# Accept the previous and next 30-second code too: phones drift, and a code typed at the end of
# its window arrives in the next one (RFC 6238, section 5.2).
MFA_TOTP_TOLERANCE = 1

# Celery: eager in-process unless a broker is configured.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="marketplace")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis hands an unacknowledged message to another worker after the visibility timeout: it
# must outlast the longest task and the longest retry countdown (a payout's), and is set for
# the broker and the result backend alike so no part of Celery uses Redis's 1-hour default.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=7200)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TIMEZONE = "UTC"


def _crontab(expression: str) -> crontab:
    """A crontab from cron's five fields (minute hour day-of-month month day-of-week)."""
    minute, hour, day_of_month, month_of_year, day_of_week = expression.split()
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


CELERY_BEAT_SCHEDULE = {
    "review-expired-credentials": {
        "task": "experts.tasks.review_expired_credentials",
        "schedule": crontab(hour=2, minute=0),
    },
    "warn-expiring-credentials": {
        "task": "experts.tasks.warn_expiring_credentials",
        "schedule": crontab(hour=2, minute=30),
    },
    "run-matching": {
        "task": "projects.tasks.run_matching",
        "schedule": crontab(minute=15),
        "kwargs": {"trigger": "schedule"},
    },
    "expire-project-invitations": {
        "task": "projects.tasks.expire_project_invitations",
        "schedule": crontab(minute="*/10"),
    },
    "return-expired-leases": {
        "task": "projects.tasks.return_expired_leases",
        "schedule": crontab(minute="*"),
    },
    "auto-accept-annotations": {
        "task": "projects.tasks.auto_accept_annotations",
        "schedule": crontab(minute=40),
    },
    "expire-dataset-exports": {
        "task": "projects.tasks.expire_dataset_exports",
        "schedule": crontab(minute=20),
    },
    "refresh-stale-quality": {
        "task": "projects.tasks.refresh_stale_quality",
        "schedule": crontab(minute="*/10"),
    },
    "run-payout-batch": {
        "task": "payments.tasks.run_payout_batch",
        "schedule": _crontab(env("PAYOUT_SCHEDULE", default="0 6 * * 1")),
    },
    "requeue-lost-payouts": {
        "task": "payments.tasks.requeue_lost_payouts",
        "schedule": crontab(minute="*/5"),
    },
    "reconcile-payments": {
        "task": "payments.tasks.reconcile_payments",
        "schedule": crontab(hour=3, minute=10),
    },
    "escalate-overdue-appeals": {
        "task": "payments.tasks.escalate_overdue_appeals",
        "schedule": crontab(minute=25),
    },
    "requeue-lost-webhook-deliveries": {
        "task": "projects.tasks.requeue_webhook_deliveries",
        "schedule": crontab(minute="*/5"),
    },
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Expert Marketplace <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Payments: the offline sandbox provider unless Stripe keys are configured.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
PAYMENTS_PROVIDER = env("PAYMENTS_PROVIDER", default="stripe" if STRIPE_SECRET_KEY else "offline")
# The offline sandbox credits balances without payment: refused with DEBUG off unless this is
# set (a throwaway environment; see payments/checks.py).
PAYMENTS_ALLOW_SANDBOX = env.bool("PAYMENTS_ALLOW_SANDBOX", default=False)
# The platform's fee, charged to the lab on top of what experts earn (whole percent).
PLATFORM_FEE_PERCENT = env.int("PLATFORM_FEE_PERCENT", default=20)
# The stripe library retries a failed network call this many times, with the same
# idempotency key (so a retried transfer is made once).
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Stripe rejects webhooks signed longer ago than this (seconds; Stripe's own default).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# A lab is warned before going live when a project's estimated hourly pay (price per answer
# over the median time an answer takes) is below this floor.
FAIR_PAY_FLOOR_CENTS_PER_HOUR = env.int("FAIR_PAY_FLOOR_CENTS_PER_HOUR", default=2000)
# Payouts: experts owed at least the minimum, with payouts enabled, are paid by each batch
# (PAYOUT_SCHEDULE is a crontab: minute hour day-of-month month day-of-week, UTC).
PAYOUT_MINIMUM_CENTS = env.int("PAYOUT_MINIMUM_CENTS", default=1000)
PAYOUT_SCHEDULE = env("PAYOUT_SCHEDULE", default="0 6 * * 1")
PAYOUT_MAX_ATTEMPTS = env.int("PAYOUT_MAX_ATTEMPTS", default=6)
# Seconds: the first retry of a failed transfer waits this long, each next one twice as
# long, never longer than PAYOUT_RETRY_MAX_DELAY (which must stay under the visibility
# timeout, or Redis would hand the waiting message to a second worker).
PAYOUT_RETRY_DELAY = env.int("PAYOUT_RETRY_DELAY", default=30)
PAYOUT_RETRY_MAX_DELAY = env.int("PAYOUT_RETRY_MAX_DELAY", default=1800)
PAYOUT_TASK_TIME_LIMIT = env.int("PAYOUT_TASK_TIME_LIMIT", default=120)
# A payout still queued or sending after this many seconds lost its message: the reconciler
# sends it again (safe: the transfer's idempotency key and lookup make it pay once).
PAYOUT_STALE_SECONDS = env.int("PAYOUT_STALE_SECONDS", default=900)
# Appeals the lab has not answered within this many days go to staff.
APPEAL_RESPONSE_DAYS = env.int("APPEAL_RESPONSE_DAYS", default=7)

# Matching: a seat asks this many hours a week of an expert; invitations expire after
# MATCHING_INVITATION_HOURS. A run solves every eligible pair exactly up to
# MATCHING_MAX_UNCUT_PAIRS (a few seconds of solver); beyond, each project keeps about
# MATCHING_CANDIDATES_PER_SEAT candidates per open seat (see benchmarks/matching.py).
MATCHING_SEAT_WEEKLY_HOURS = env.int("MATCHING_SEAT_WEEKLY_HOURS", default=5)
MATCHING_INVITATION_HOURS = env.int("MATCHING_INVITATION_HOURS", default=48)
MATCHING_MAX_UNCUT_PAIRS = env.int("MATCHING_MAX_UNCUT_PAIRS", default=400_000)
MATCHING_CANDIDATES_PER_SEAT = env.int("MATCHING_CANDIDATES_PER_SEAT", default=6)

# Task imports: files up to 200 MB are streamed by a Celery task; the report keeps at most
# this many problems (the count covers them all).
MAX_TASK_IMPORT_SIZE = env.int("MAX_TASK_IMPORT_SIZE", default=200 * 1024 * 1024)
# Exports up to this many rows stream straight to the browser; bigger ones run in Celery and
# are downloaded through a signed link valid for EXPORT_LINK_DAYS.
EXPORT_STREAM_MAX_ROWS = env.int("EXPORT_STREAM_MAX_ROWS", default=20_000)
EXPORT_LINK_DAYS = env.int("EXPORT_LINK_DAYS", default=7)
MAX_IMPORT_REPORT_PROBLEMS = 1000
# Tasks sent in one API request body (larger sets go as files or several batches).
MAX_TASKS_PER_API_BATCH = 1000
# Outgoing webhooks: attempts before a delivery is marked failed, and whether endpoints may
# resolve to private or loopback addresses (only for local development and tests).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_TIMEOUT_SECONDS = 10
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=DEBUG)

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Private by default: credential documents and exports are served only through
    # permission-checked views, never from a public media URL.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: requests and in-memory files are capped; documents have their own 10 MB cap and
# task imports their own 200 MB cap (MAX_TASK_IMPORT_SIZE, below).
# A request body read into memory (form posts, API JSON: a batch of 1,000 tasks of a few KB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
MAX_DOCUMENT_UPLOAD_SIZE = 10 * 1024 * 1024
# No uploaded file is read past this size (see marketplace/uploads.py); keep nginx's
# client_max_body_size just above it.
MAX_UPLOAD_SIZE = MAX_DOCUMENT_UPLOAD_SIZE + 1024
# Task-import endpoints take files up to MAX_TASK_IMPORT_SIZE instead.
LARGE_UPLOAD_PATH_PATTERN = (
    r"^/(labs/[-\w]+/projects/[-\w]+/imports/|api/v1/projects/[-\w]+/(tasks|gold)/)"
)
FILE_UPLOAD_HANDLERS = [
    "marketplace.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Behind nginx, private files are handed over with X-Accel-Redirect to this internal location
# (e.g. "/protected/" mapped with `internal; alias <PRIVATE_MEDIA_ROOT>/;`). Empty: Django
# streams them itself.
PRIVATE_FILES_X_ACCEL_PREFIX = env("PRIVATE_FILES_X_ACCEL_PREFIX", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["marketplace.api_auth.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": env("API_THROTTLE_RATE", default="600/min")},
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "marketplace.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Expert Marketplace API",
    "DESCRIPTION": (
        "REST API for AI labs: organisations, projects, tasks and exports. Authenticate with "
        "an organisation API key: `Authorization: Api-Key <key>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema name per choice set, shared by every serializer that uses it.
    "ENUM_NAME_OVERRIDES": {
        "CredentialKindEnum": "experts.states.CredentialKind",
        "CredentialStatusEnum": "experts.states.CredentialStatus",
        "SeniorityEnum": "experts.states.Seniority",
        "LanguageEnum": "django.conf.settings.LANGUAGES",
        "ProficiencyEnum": "experts.states.Proficiency",
        "ProjectStatusEnum": "projects.states.ProjectStatus",
        "TaskStatusEnum": "projects.states.TaskStatus",
        "ImportKindEnum": "projects.states.ImportKind",
        "ImportFormatEnum": "projects.states.ImportFormat",
        "ImportStatusEnum": "projects.states.ImportStatus",
        "WebhookEventEnum": "projects.states.WebhookEvent",
        "DeliveryStatusEnum": "projects.states.DeliveryStatus",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization"}
        }
    },
}

# Security headers. Production (DEBUG=0) gets HTTPS-only cookies, HSTS and the redirect.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if not DEBUG else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Behind N reverse proxies, the client's address is the N-th from the right of
# X-Forwarded-For; 0 means REMOTE_ADDR is the client (rate limits and audit rows use it).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
