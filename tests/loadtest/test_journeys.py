"""What the Locust journeys send is what the service accepts (a refused request would count as
a load-test error, not as load)."""

from __future__ import annotations

import httpx

from ftw.loadtest import photo
from tests.conftest import SignUp
from tests.support.market import post_job


async def test_the_photo_a_journey_uploads_is_accepted(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    job = await post_job(client, owner)
    files = [("files", ("leak.png", photo.png(), "image/png"))]
    uploaded = await client.post(f"/api/v1/jobs/{job['id']}/photos", headers=owner.headers, files=files)
    assert uploaded.status_code == 201, uploaded.text
