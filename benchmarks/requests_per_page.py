"""Time the core pages and API endpoints in-process and count their queries.

Builds a lab with members, API keys and notifications in a throwaway database (a temporary
SQLite file unless DATABASE_URL is set, in which case a `bench_` database is created and
dropped), then requests each page N times through Django's test client and prints the median
and 95th percentile latency and the number of queries per request.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))


def build() -> tuple[object, str, str]:
    from allauth.account.models import EmailAddress

    from marketplace import services
    from marketplace.models import Membership, User
    from marketplace.states import MembershipRole, UserRole

    owner = User.objects.create_user("owner@bench.example", "bench-password-1", role=UserRole.LAB)
    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    org = services.organization_create(user=owner, name="Bench Lab")
    membership = Membership.objects.get(user=owner)
    for i in range(20):
        colleague = User.objects.create_user(f"c{i}@bench.example", role=UserRole.LAB)
        Membership.objects.create(organization=org, user=colleague, role=MembershipRole.VIEWER)
    secret = ""
    for i in range(10):
        secret = services.api_key_create(membership=membership, name=f"key {i}").secret
    for i in range(60):
        services.notification_create(
            recipient=owner, kind="bench", text=f"Notification {i}", send_email=False
        )
    return owner, org.slug, secret


def build_expert() -> object:
    """An expert with a full profile and 12 credentials, each with a document."""
    import io
    from datetime import date

    from allauth.account.models import EmailAddress
    from PIL import Image

    from experts import services as expert_services
    from experts.models import Domain
    from marketplace.models import User
    from marketplace.states import UserRole

    person = User.objects.create_user("expert@bench.example", role=UserRole.EXPERT)
    EmailAddress.objects.create(user=person, email=person.email, verified=True, primary=True)
    radiology = Domain.objects.get(slug="medicine-radiology")
    expert_services.profile_update(
        expert=person,
        data={"headline": "Radiologist", "weekly_availability_hours": 10},
        languages=[("en", "native"), ("es", "C1")],
        domains=[(radiology, "senior")],
    )
    png = io.BytesIO()
    Image.new("RGB", (64, 48), "navy").save(png, format="PNG")
    for i in range(12):
        credential = expert_services.credential_create(
            expert=person,
            data={
                "kind": "licence",
                "title": f"Licence {i}",
                "issuer": "Board",
                "issued_on": date(2015, 1, 1),
                "domains": [radiology],
            },
        )
        expert_services.document_add(
            expert=person, credential_id=credential.pk, name="l.png", data=png.getvalue()
        )
    return person


def build_projects(owner: object, slug: str) -> tuple[str, int]:
    """20 pairwise projects of 50 tasks each, one of them with 2,000; all funded and live."""
    from experts.models import Domain
    from payments.demo import ensure_balance
    from projects import services
    from projects.access import lab_actor_for_member
    from projects.selectors import required_funds_cents

    actor = lab_actor_for_member(user=owner, organization_slug=slug)  # type: ignore[arg-type]
    medicine = Domain.objects.get(slug="medicine")
    big = None
    for n in range(20):
        project = services.project_create(
            actor=actor,
            title=f"Bench project {n}",
            domain=medicine,
            task_type="pairwise",
            price_per_annotation_cents=800,
            guidelines="# Guidelines\n\nPrefer the **safer** answer.",
            task_settings={"criteria": ["accuracy", "safety"]},
        )
        count = 2000 if n == 0 else 50
        for start in range(0, count, 1000):
            rows = [
                {
                    "external_id": f"t-{i}",
                    "prompt": f"Question {i}: is ibuprofen safe with lisinopril? " * 5,
                    "response_a": "Occasional use is usually fine; check with your doctor. " * 8,
                    "response_b": "Yes, there is no interaction at all. " * 8,
                }
                for i in range(start, min(count, start + 1000))
            ]
            services.tasks_create_batch(actor=actor, project=project, rows=rows)
        needed = required_funds_cents(project=project, task_count=count)
        ensure_balance(actor=actor, cents=needed)
        services.project_fund(actor=actor, project=project, amount_cents=needed)
        services.project_activate(actor=actor, project=project)
        big = big or project
    assert big is not None
    return str(big.public_id), big.tasks.order_by("id").values_list("id", flat=True).first()


def measure(client, path: str, **headers: str) -> tuple[float, float, int]:
    client.get(path, **headers)  # warm up
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(path, **headers)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(path, **headers)
    p95 = statistics.quantiles(timings, n=20)[18]
    return statistics.median(timings), p95, len(queries)


def main() -> None:
    from django.test import Client

    setup_test_environment()
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"client": "1000000/min"}
    from rest_framework.settings import api_settings

    api_settings.reload()
    from marketplace.api_auth import ClientRateThrottle

    ClientRateThrottle.THROTTLE_RATES = {"client": "1000000/min"}
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        owner, slug, secret = build()
        browser = Client()
        browser.force_login(owner)
        expert_browser = Client()
        expert_browser.force_login(build_expert())
        api = Client()
        project_id, task_id = build_projects(owner, slug)
        project_pages = f"/labs/{slug}/projects/{project_id}"
        key = {"HTTP_AUTHORIZATION": f"Api-Key {secret}"}
        cases = [
            ("home", browser, "/", {}),
            ("lab dashboard", browser, f"/labs/{slug}/", {}),
            ("lab members (21)", browser, f"/labs/{slug}/members/", {}),
            ("lab API keys (10)", browser, f"/labs/{slug}/api-keys/", {}),
            ("notifications (60)", browser, "/notifications/", {}),
            ("expert dashboard", expert_browser, "/expert/", {}),
            ("expert profile", expert_browser, "/expert/profile/", {}),
            ("credentials (12)", expert_browser, "/expert/credentials/", {}),
            ("projects (20)", browser, f"/labs/{slug}/projects/", {}),
            ("project page", browser, f"{project_pages}/", {}),
            ("tasks (2,000)", browser, f"{project_pages}/tasks/", {}),
            ("task", browser, f"{project_pages}/tasks/{task_id}/", {}),
            ("preview as expert", browser, f"{project_pages}/preview/", {}),
            ("API /me (key)", api, "/api/v1/me/", key),
            ("API projects (20)", api, "/api/v1/projects/", key),
            ("API tasks (2,000)", api, f"/api/v1/projects/{project_id}/tasks/", key),
            ("healthz", api, "/healthz", {}),
        ]
        print(f"database: {connection.vendor}, rounds: {ROUNDS}")
        print(f"{'page':<22}{'median ms':>10}{'p95 ms':>10}{'queries':>9}")
        for name, client, path, headers in cases:
            median, p95, queries = measure(client, path, **headers)
            print(f"{name:<22}{median:>10.2f}{p95:>10.2f}{queries:>9}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
