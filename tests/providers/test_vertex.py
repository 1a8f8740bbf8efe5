"""Veo on Vertex AI: a service-account key file (the config's api_key is its path) exchanged
for a token through the adapter's one request path, predictLongRunning and
fetchPredictOperation, results as inline bytes or a gs:// object read through the Cloud
Storage JSON API. Every recorded payload of payloads/vertex/ is also fed to the adapter by
test_payloads.py."""

from __future__ import annotations

import base64
import json

import pytest

from webapp.providers import base as pb
from webapp.providers.base import Job

from .conftest import (
    MP4,
    PNG,
    STORAGE,
    TOKEN_URI,
    VERTEX,
    load_payload,
    serve,
    write_key_file,
)

MODEL = "veo-3.1-generate-001"
MODEL_PATH = f"projects/my-proj/locations/us-central1/publishers/google/models/{MODEL}"
OP = f"{MODEL_PATH}/operations/3f0c2a8e-5b1d-4c7e-9a2f-8d6e4b1c0a97"
PREDICT = f"{VERTEX}/{MODEL_PATH}:predictLongRunning"
FETCH = f"{VERTEX}/{MODEL_PATH}:fetchPredictOperation"
GCS_DONE = load_payload("vertex/fetchPredictOperation_done_gcs_200.json")
OBJECT = f"{STORAGE}/storage/v1/b/reelay-out/o/jobs%2F123%2F8139915286016473915%2Fsample_0.mp4"


def test_submit_builds_the_model_url_and_parameters(rsps, make_vertex, token):
    adapter = make_vertex(storage_uri="gs://reelay-out/jobs/", generate_audio=True)
    serve(rsps, "POST", PREDICT, load_payload("vertex/predictLongRunning_200.json"))
    job = Job(
        model=MODEL,
        prompt="A neon hologram of a cat",
        seconds=8,
        aspect_ratio="16:9",
        reference_image=PNG,
        reference_mime="image/png",
    )
    submitted = adapter.submit(job)
    assert submitted.external_id == OP
    assert submitted.status.state == pb.QUEUED
    token_call, predict_call = rsps.calls
    assert token_call.request.url == TOKEN_URI
    assert "Authorization" not in token_call.request.headers  # nothing rides on the token call
    assert predict_call.request.url == PREDICT
    assert predict_call.request.headers["Authorization"] == f"Bearer {token}"
    assert json.loads(predict_call.request.body) == {
        "instances": [
            {
                "prompt": "A neon hologram of a cat",
                "image": {
                    "bytesBase64Encoded": base64.b64encode(PNG).decode(),
                    "mimeType": "image/png",
                },
            }
        ],
        "parameters": {
            "sampleCount": 1,
            "durationSeconds": 8,
            "aspectRatio": "16:9",
            "storageUri": "gs://reelay-out/jobs/",
            "generateAudio": True,
        },
    }


def test_a_full_model_name_uses_its_last_part_and_odd_ratios_are_left_out(rsps, vertex, token):
    serve(rsps, "POST", PREDICT, load_payload("vertex/predictLongRunning_200.json"))
    vertex.submit(Job(model=f"publishers/google/models/{MODEL}", prompt="p", aspect_ratio="1:1"))
    assert rsps.calls[-1].request.url == PREDICT
    assert json.loads(rsps.calls[-1].request.body)["parameters"] == {"sampleCount": 1}


@pytest.mark.parametrize("answer", [{}, {"name": "no-operation-here"}, {"name": 7}])
def test_submit_without_an_operation_name_is_ambiguous(rsps, vertex, token, answer):
    rsps.post(PREDICT, json=answer)
    with pytest.raises(pb.AmbiguousError):
        vertex.submit(Job(model=MODEL, prompt="p"))


def test_poll_posts_the_operation_name_and_reuses_the_token(rsps, vertex, token):
    serve(rsps, "POST", FETCH, load_payload("vertex/fetchPredictOperation_running_200.json"))
    assert vertex.status(OP, {}).state == pb.IN_PROGRESS
    assert vertex.status(OP, {}).state == pb.IN_PROGRESS
    urls = [c.request.url for c in rsps.calls]
    assert urls == [TOKEN_URI, FETCH, FETCH]
    assert json.loads(rsps.calls[1].request.body) == {"operationName": OP}


@pytest.mark.parametrize("name", ["../../etc/operations/x", "projects/../p/operations/x"])
def test_an_operation_name_cannot_walk_the_path(rsps, vertex, token, name):
    with pytest.raises(pb.PermanentError) as info:
        vertex.status(name, {})
    assert info.value.code == "invalid_external_id"
    assert FETCH not in [c.request.url for c in rsps.calls]


def test_download_reads_the_gcs_object_with_the_token(rsps, vertex, token, session):
    serve(rsps, "POST", FETCH, GCS_DONE)
    rsps.get(OBJECT, body=MP4, content_type="video/mp4")
    download = vertex.download(OP, {})
    assert b"".join(download.chunks) == MP4
    assert download.content_type == "video/mp4"
    request = rsps.calls[-1].request
    assert request.url == OBJECT + "?alt=media"
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert session.calls[-1]["stream"] is True


def test_download_from_a_configured_storage_host_gets_the_token(rsps, make_vertex, token):
    adapter = make_vertex(storage_url="https://storage.example.com")
    serve(rsps, "POST", FETCH, GCS_DONE)
    url = OBJECT.replace(STORAGE, "https://storage.example.com")
    rsps.get(url, body=MP4)
    b"".join(adapter.download(OP, {}).chunks)
    assert rsps.calls[-1].request.headers["Authorization"] == f"Bearer {token}"


def test_download_of_a_deleted_object_is_content_expired(rsps, vertex, token):
    serve(rsps, "POST", FETCH, GCS_DONE)
    rsps.get(OBJECT, status=404, json={"error": {"code": 404, "message": "No such object"}})
    with pytest.raises(pb.ContentExpired):
        vertex.download(OP, {})


def test_download_without_a_video_is_content_expired(rsps, vertex, token):
    serve(
        rsps, "POST", FETCH, load_payload("vertex/fetchPredictOperation_done_rai_filtered_200.json")
    )
    with pytest.raises(pb.ContentExpired):
        vertex.download(OP, {})


def test_download_other_variants_do_not_exist(rsps, vertex):
    with pytest.raises(pb.NotFound):
        vertex.download(OP, {}, "thumbnail")
    assert len(rsps.calls) == 0


def test_a_missing_key_file_is_an_auth_error(rsps, make, tmp_path):
    adapter = make("vertex", VERTEX.removesuffix("/v1"), "/v1", api_key=str(tmp_path / "nope.json"))
    with pytest.raises(pb.AuthError) as info:
        adapter.status(OP, {})
    assert "key file is missing" in info.value.message
    assert str(tmp_path) not in info.value.message
    result = adapter.check()
    assert (result.ok, result.reachable, result.authenticated) == (False, True, False)
    assert len(rsps.calls) == 0


def test_an_unreadable_key_file_is_an_auth_error(rsps, make, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "service_account", "client_email": "x@y"}))
    adapter = make("vertex", VERTEX.removesuffix("/v1"), "/v1", api_key=str(bad))
    with pytest.raises(pb.AuthError) as info:
        adapter.status(OP, {})
    assert info.value.message == "The service-account key file could not be read."
    assert len(rsps.calls) == 0


def test_a_token_uri_on_a_metadata_address_is_never_called(rsps, make, tmp_path):
    path = write_key_file(tmp_path / "sa.json", token_uri="http://169.254.169.254/token")
    adapter = make("vertex", VERTEX.removesuffix("/v1"), "/v1", api_key=str(path))
    with pytest.raises(pb.AuthError):
        adapter.status(OP, {})
    assert len(rsps.calls) == 0


def test_what_the_protocol_cannot_do(vertex):
    assert vertex.capabilities == {pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT}
    job = Job(model=MODEL, prompt="p")
    for call in (
        lambda: vertex.remix(OP, {}, job),
        lambda: vertex.cancel(OP, {}),
        lambda: vertex.delete(OP, {}),
    ):
        with pytest.raises(pb.PermanentError):
            call()
    assert vertex.list_jobs(None) == []


def test_check_is_a_token_exchange(rsps, vertex, token):
    result = vertex.check()
    assert (result.ok, result.reachable, result.authenticated) == (True, True, True)
    assert [c.request.url for c in rsps.calls] == [TOKEN_URI]
