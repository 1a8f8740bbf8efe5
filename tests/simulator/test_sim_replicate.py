"""The Replicate predictions shape: both create forms, status words, token-protected
outputs that are removed after the retention window."""

from __future__ import annotations

import pytest
from sim_helpers import KEY, assert_mp4, image_format

AUTH = {"Authorization": f"Bearer {KEY}"}


def create_model(http, sim, model="google/veo-3.1", headers=None, **inp):
    inp.setdefault("prompt", "A koi pond")
    return http.post(
        f"{sim.url}/v1/models/{model}/predictions", json={"input": inp}, headers=headers or AUTH
    )


def test_happy_path_official_model(simsrv, http):
    r = create_model(http, simsrv, aspect_ratio="16:9", duration=8)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["status"] == "starting" and p["model"] == "google/veo-3.1"
    assert p["input"] == {"prompt": "A koi pond", "aspect_ratio": "16:9", "duration": 8}
    assert p["created_at"].endswith("Z") and p["output"] is None and p["error"] is None
    assert p["urls"]["get"] == f"{simsrv.url}/v1/predictions/{p['id']}"
    assert p["urls"]["cancel"] == p["urls"]["get"] + "/cancel"
    simsrv.advance(2)
    running = http.get(p["urls"]["get"], headers=AUTH).json()
    assert running["status"] == "processing" and running["started_at"]
    simsrv.advance(4)
    done = http.get(p["urls"]["get"], headers=AUTH).json()
    assert done["status"] == "succeeded" and done["completed_at"] and done["metrics"]
    assert isinstance(done["output"], str) and done["data_removed"] is False
    assert http.get(done["output"]).status_code == 401  # needs the token
    r = http.get(done["output"], headers=AUTH)
    assert r.headers["Content-Type"] == "video/mp4"
    assert_mp4(r.content)


def test_versioned_create_and_image_output_list(simsrv, http):
    body = {"version": "black-forest-labs/flux-schnell:" + "a" * 64, "input": {"prompt": "cat"}}
    r = http.post(f"{simsrv.url}/v1/predictions", json=body, headers=AUTH)
    p = r.json()
    assert r.status_code == 201 and p["model"] == "black-forest-labs/flux-schnell"
    assert p["version"] == "a" * 64
    simsrv.advance(10)
    out = http.get(p["urls"]["get"], headers=AUTH).json()["output"]
    assert isinstance(out, list)
    assert image_format(http.get(out[0], headers=AUTH).content) == "PNG"


def test_output_removed_after_retention(simsrv, http):
    p = create_model(http, simsrv).json()
    simsrv.advance(10)
    url = http.get(p["urls"]["get"], headers=AUTH).json()["output"]
    simsrv.advance(3601)
    later = http.get(p["urls"]["get"], headers=AUTH).json()
    assert later["status"] == "succeeded" and later["output"] is None and later["data_removed"]
    assert http.get(url, headers=AUTH).status_code == 404


def test_failed_and_canceled(simsrv, http):
    bad = create_model(http, simsrv, prompt="[fail] nope").json()
    run = create_model(http, simsrv, prompt="stop me").json()
    r = http.post(run["urls"]["cancel"], headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    simsrv.advance(10)
    failed = http.get(bad["urls"]["get"], headers=AUTH).json()
    assert failed["status"] == "failed" and "NSFW" in failed["error"] and failed["output"] is None
    assert http.get(run["urls"]["get"], headers=AUTH).json()["status"] == "canceled"


def test_list(simsrv, http):
    ids = [create_model(http, simsrv, prompt=f"p{i}").json()["id"] for i in range(3)]
    page = http.get(f"{simsrv.url}/v1/predictions", headers=AUTH).json()
    assert [p["id"] for p in page["results"]] == ids[::-1] and page["next"] is None


@pytest.mark.parametrize("scheme", ["Bearer", "Token"])
def test_auth_schemes(simsrv, http, scheme):
    assert create_model(http, simsrv, headers={"Authorization": f"{scheme} {KEY}"}).ok


def test_auth_refused_and_validation(simsrv, http):
    r = create_model(http, simsrv, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["detail"] and r.json()["status"] == 401
    assert http.get(f"{simsrv.url}/v1/predictions/x").status_code == 401
    r = http.post(f"{simsrv.url}/v1/models/a/b/predictions", json={"input": {}}, headers=AUTH)
    assert r.status_code == 422 and "prompt" in r.json()["detail"]
    r = http.post(f"{simsrv.url}/v1/predictions", json={"input": {"prompt": "x"}}, headers=AUTH)
    assert r.status_code == 422
    assert http.get(f"{simsrv.url}/v1/predictions/nope", headers=AUTH).status_code == 404
    assert simsrv.stats()["created_total"] == 0
