"""The Gemini API shape: Veo long-running operations with key-protected, redirected
downloads, safety-filtered and errored operations, and synchronous image generation."""

from __future__ import annotations

import base64

import pytest
from sim_helpers import KEY, assert_mp4, image_format

AUTH = {"x-goog-api-key": KEY}
MODEL = "veo-3.1-generate-preview"


def predict(http, sim, prompt="A glacier calving", params=None, headers=None, **instance):
    body = {"instances": [{"prompt": prompt, **instance}], "parameters": params or {}}
    url = f"{sim.url}/v1beta/models/{MODEL}:predictLongRunning"
    return http.post(url, json=body, headers=AUTH if headers is None else headers)


def test_happy_path_operation_and_download(simsrv, http):
    png = base64.b64encode(b"\x89PNG fake").decode()
    image = {"bytesBase64Encoded": png, "mimeType": "image/png"}
    r = predict(http, simsrv, params={"aspectRatio": "9:16", "durationSeconds": 8}, image=image)
    assert r.status_code == 200, r.text
    name = r.json()["name"]
    assert name.startswith(f"models/{MODEL}/operations/")
    op = http.get(f"{simsrv.url}/v1beta/{name}", headers=AUTH).json()
    assert op["name"] == name and not op.get("done")
    simsrv.advance(10)
    op = http.get(f"{simsrv.url}/v1beta/{name}", headers=AUTH).json()
    assert op["done"] is True and "error" not in op
    uri = op["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    assert uri.endswith(":download?alt=media")
    assert http.get(uri).status_code == 400  # needs the key (Google says 400 API_KEY_INVALID)
    first = http.get(uri, headers=AUTH, allow_redirects=False)
    assert first.status_code == 302  # Google redirects to storage
    r = http.get(uri, headers=AUTH)
    assert r.status_code == 200 and r.headers["Content-Type"] == "video/mp4"
    assert_mp4(r.content)
    assert http.get(uri.replace("alt=media", "alt=media&key=" + KEY)).status_code == 200


def test_key_in_query_and_refusals(simsrv, http):
    url = f"{simsrv.url}/v1beta/models/{MODEL}:predictLongRunning"
    body = {"instances": [{"prompt": "x"}]}
    assert http.post(url + "?key=" + KEY, json=body).status_code == 200
    for headers in ({}, {"x-goog-api-key": "nope"}, {"Authorization": f"Bearer {KEY}"}):
        r = http.post(url, json=body, headers=headers)
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT"
        assert err["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("prompt", "params", "instance"),
    [
        ("", {}, {}),
        ("ok", {"durationSeconds": 30}, {}),
        ("ok", {}, {"image": {"bytesBase64Encoded": "!!", "mimeType": "image/png"}}),
    ],
)
def test_validation(simsrv, http, prompt, params, instance):
    r = predict(http, simsrv, prompt, params, **instance)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert simsrv.stats()["created_total"] == 0


def test_rai_filtered_and_errored_operations(simsrv, http):
    blocked = predict(http, simsrv, "[fail] this").json()["name"]
    simsrv.set_config(FAILURE_RATE=1)
    broken = predict(http, simsrv, "unlucky").json()["name"]
    simsrv.advance(10)
    op = http.get(f"{simsrv.url}/v1beta/{blocked}", headers=AUTH).json()
    gvr = op["response"]["generateVideoResponse"]
    assert op["done"] and gvr["raiMediaFilteredCount"] == 1 and gvr["raiMediaFilteredReasons"]
    assert "generatedSamples" not in gvr
    op = http.get(f"{simsrv.url}/v1beta/{broken}", headers=AUTH).json()
    assert op["done"] and op["error"]["message"] and "response" not in op


def test_download_expires(simsrv, http):
    name = predict(http, simsrv).json()["name"]
    simsrv.advance(10)
    op = http.get(f"{simsrv.url}/v1beta/{name}", headers=AUTH).json()
    uri = op["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    simsrv.advance(3601)
    r = http.get(uri, headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_unknown_operation(simsrv, http):
    r = http.get(f"{simsrv.url}/v1beta/models/{MODEL}/operations/nope", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


def test_generate_content_image(simsrv, http):
    body = {
        "contents": [{"parts": [{"text": "A robot holding a red skateboard"}]}],
        "generationConfig": {
            "responseModalities": ["IMAGE"],
            "imageConfig": {"aspectRatio": "16:9"},
        },
    }
    url = f"{simsrv.url}/v1beta/models/gemini-3.1-flash-image:generateContent"
    r = http.post(url, json=body, headers=AUTH)
    assert r.status_code == 200
    parts = r.json()["candidates"][0]["content"]["parts"]
    inline = next(p["inlineData"] for p in parts if "inlineData" in p)
    assert inline["mimeType"] == "image/png"
    assert image_format(base64.b64decode(inline["data"])) == "PNG"
    body["contents"][0]["parts"][0]["text"] = "[fail] blocked"
    blocked = http.post(url, json=body, headers=AUTH).json()
    assert blocked["promptFeedback"]["blockReason"] and "candidates" not in blocked
    r = http.post(url, json={"contents": []}, headers=AUTH)
    assert r.status_code == 400
