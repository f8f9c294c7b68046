from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job-retry"),
    path("jobs/<int:job_id>/download/", views.job_download, name="job-download"),
    path("forecast/<int:product_id>/", views.forecast, name="forecast"),
    path("<slug:slug>/", views.report, name="report"),
    path("<slug:slug>/export/", views.report_export, name="report-export"),
]
