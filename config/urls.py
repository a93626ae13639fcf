from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from benchmarks.api import router as benchmarks_router
from catalog.api import router as catalog_router
from cloudprices.api import router as prices_router
from config import health, seo
from config.api import api
from estimator.api import router as estimator_router

api.add_router("/", catalog_router)
api.add_router("/", estimator_router)
api.add_router("/", prices_router)
api.add_router("/", benchmarks_router)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("robots.txt", seo.robots_txt, name="robots"),
    path("sitemap.xml", sitemap, {"sitemaps": seo.SITEMAPS}, name="sitemap"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("cloudprices.urls")),
    path("", include("benchmarks.urls")),
    path("", include("catalog.urls")),
]

handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"
