"""ModelFit settings: one file, read from the environment (see README "Configuration")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from django.utils.csp import CSP

from config.env import EnvError, env_bool, env_int, env_list, env_str, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state for `make run`: SQLite file, Celery broker folders

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise EnvError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production-0123456789abcdef"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django_htmx",
    "axes",
    "catalog",
    "estimator",
    "cloudprices",
    "benchmarks",
]

MIDDLEWARE = [
    "config.middleware.server_timing",
    "config.middleware.reject_bad_input",
    "config.seo.social_tags",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.api_json_errors",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    }
]

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", "sqlite:///var/modelfit.sqlite3"), BASE_DIR
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # An unreachable (blackholed) server holds a worker this long, not the OS's minutes. libpq
    # treats less than 2 s as 2 s. A connection broken by a restart is replaced on the next
    # request (CONN_HEALTH_CHECKS); meanwhile config.errors answers 503.
    DATABASES["default"]["OPTIONS"] = {"connect_timeout": 3}
if (
    DATABASES["default"]["ENGINE"].endswith("sqlite3")
    and DATABASES["default"]["NAME"] != ":memory:"
):
    Path(str(DATABASES["default"]["NAME"])).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Community benchmarks: submissions an address may store per clock hour (counted in the cache),
# and the salt for the stored address hashes (SECRET_KEY when unset).
BENCHMARK_RATE_LIMIT = env_int("BENCHMARK_RATE_LIMIT", 10)
BENCHMARK_IP_SALT = env_str("BENCHMARK_IP_SALT", "")
# /estimate/ requests (a pasted config or a Hub read) an address may make per clock hour.
ESTIMATE_RATE_LIMIT = env_int("ESTIMATE_RATE_LIMIT", 30)
# POST /api/v1/estimate (a pasted config) and reading a pasted llama-bench output, per hour.
ESTIMATE_API_RATE_LIMIT = env_int("ESTIMATE_API_RATE_LIMIT", 300)
BENCHMARK_PASTE_RATE_LIMIT = env_int("BENCHMARK_PASTE_RATE_LIMIT", 60)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: clients connect directly).
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

# The Hugging Face Hub for `import_hf` and /estimate/ (a recorded copy in tests); HF_TOKEN for
# gated repositories.
HF_ENDPOINT = env_str("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
HF_TOKEN = env_str("HF_TOKEN", "")

# How long a process trusts its copy of the catalog and prices revision tokens (catalog.models.
# Revision): a page served from the cache then makes no query; an edit made by another process
# shows within this time.
REVISION_CHECK_MS = env_int("REVISION_CHECK_MS", 1000)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.Cache", "LOCATION": REDIS_URL}}

# Admin login throttling (django-axes, attempts stored in the database so it does not depend on
# the cache): after AXES_FAILURE_LIMIT wrong passwords for one username from one client address
# (config.ratelimit.login_address: TRUSTED_PROXIES holds), that pair is refused, even with
# the right password, for AXES_COOLOFF_TIME after the last counted failure; a 429 page says so.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "config.ratelimit.login_address"
AXES_USERNAME_CALLABLE = "config.ratelimit.login_username"
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout do not push its end further: the page can say when it ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False  # no banner at every start; failures and lockouts are still logged

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Security headers. Our pages need no inline script or style; htmx is served from static/.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load balancers probe over plain HTTP
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"  # JSON under /api/, the site's 403 page elsewhere

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport (no server needed).
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if not REDIS_URL:
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, object] = {
    # Hourly rental prices (cloudprices.tasks); a few minutes past the hour.
    "refresh-prices": {"task": "cloudprices.refresh_prices", "schedule": crontab(minute=7)},
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Cloud price APIs: they work without a key and use one when it is set. The URLs change only
# for tests (a local server) or a proxy.
RUNPOD_API_KEY = env_str("RUNPOD_API_KEY", "")
VAST_API_KEY = env_str("VAST_API_KEY", "")
RUNPOD_API_URL = env_str("RUNPOD_API_URL", "https://api.runpod.io/graphql")
VAST_API_URL = env_str("VAST_API_URL", "https://console.vast.ai/api/v0/bundles/")
AZURE_PRICES_URL = env_str("AZURE_PRICES_URL", "https://prices.azure.com/api/retail/prices")
PRICE_REFRESH_RETRY_SECONDS = env_int("PRICE_REFRESH_RETRY_SECONDS", 120)  # doubles per retry

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
