"""The backbone of a run: WEBAPP_BACKBONE, the per-run choice, each backbone's defaults, the run JSON.

Web-process tests (no TensorFlow); both backbones through the real worker are in test_backbones_live.py.
"""

import pytest

from tests.test_api_runs import get_run, insert_run, labeled, start
from webapp import create_app
from webapp.params import BACKBONE_DEFAULTS

MOBILE = {**BACKBONE_DEFAULTS["mobilenet_v2"], "backbone": "mobilenet_v2"}
VGG = {**BACKBONE_DEFAULTS["vgg16"], "backbone": "vgg16"}
del MOBILE["optimizer"], VGG["optimizer"]  # it goes with the backbone, not stored with a run's settings


@pytest.fixture
def mobile_default(app_config):
    """Run the tests of this module that ask for it with WEBAPP_BACKBONE=mobilenet_v2."""
    app_config["BACKBONE"] = "mobilenet_v2"


def test_a_run_names_its_backbone_and_gets_that_backbones_defaults(client):
    labeled(client, {"beer": 4, "wings": 4})
    response = start(client, {"backbone": "mobilenet_v2"})
    assert response.status_code == 202, response.get_json()
    run = get_run(client, response.get_json()["id"])
    assert run["backbone"] == "mobilenet_v2" and run["params"] == MOBILE
    assert run["progress"]["epochs"] == MOBILE["epochs"]


def test_settings_given_with_the_backbone_are_kept(client):
    labeled(client, {"beer": 4, "wings": 4})
    body = {"backbone": "mobilenet_v2", "epochs": 3, "trainable_layers": 20, "learning_rate": 0.01}
    run = start(client, body).get_json()
    assert run["params"] == {**MOBILE, **body}


def test_without_a_choice_the_run_gets_the_configured_default(client):
    labeled(client, {"beer": 4, "wings": 4})
    run = start(client).get_json()
    assert run["backbone"] == "vgg16" and run["params"] == VGG


def test_webapp_backbone_sets_the_default_of_new_runs(mobile_default, client):
    labeled(client, {"beer": 4, "wings": 4})
    run = start(client, {"epochs": 2}).get_json()
    assert run["backbone"] == "mobilenet_v2" and run["params"] == {**MOBILE, "epochs": 2}
    assert client.get("/api/v1/runs/defaults").get_json()["backbone"] == "mobilenet_v2"
    page = client.get("/train").get_data(as_text=True)
    assert "Fine-tunes MobileNetV2 (or the backbone you choose)" in page


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"backbone": "resnet50"}, "backbone must be one of vgg16, mobilenet_v2 (got 'resnet50')"),
        ({"backbone": 3}, "backbone must be string or null, not integer"),
        (
            {"backbone": "mobilenet_v2", "trainable_layers": 12},
            "trainable_layers for mobilenet_v2 must end at",
        ),
        ({"backbone": "mobilenet_v2", "trainable_layers": 154}, "from 0 to 153"),
        ({"trainable_layers": 19}, "from 0 to 18"),
        ({"optimizer": "sgd"}, "Unknown field(s): optimizer"),  # it comes with the backbone
    ],
)
def test_bad_choices_are_refused_in_plain_words_and_nothing_is_stored(client, body, words):
    labeled(client, {"beer": 4, "wings": 4})
    response = start(client, body)
    assert response.status_code == 400
    assert words in response.get_json()["error"]
    assert client.get("/api/v1/runs").get_json() == []


def test_the_defaults_endpoint_lists_each_backbone(client):
    answer = client.get("/api/v1/runs/defaults").get_json()
    assert answer["backbone"] == "vgg16"
    assert answer["backbones"]["vgg16"] == {
        **BACKBONE_DEFAULTS["vgg16"], "max_trainable_layers": 18, "trainable_layers_choices": "0-18"
    }  # fmt: skip
    mobile = answer["backbones"]["mobilenet_v2"]
    assert mobile["max_trainable_layers"] == 153 and mobile["trainable_layers_choices"].startswith(
        "0-11, 20,"
    )
    assert {k: mobile[k] for k in BACKBONE_DEFAULTS["mobilenet_v2"]} == BACKBONE_DEFAULTS["mobilenet_v2"]


def test_a_run_made_before_the_choice_is_a_vgg16_run(app, client):
    old = {"epochs": 5, "batch_size": 32, "learning_rate": 1e-4, "trainable_layers": 4}
    run_id = insert_run(app, "succeeded", params=old)
    assert get_run(client, run_id)["backbone"] == "vgg16"
    assert client.get("/api/v1/runs").get_json()[0]["backbone"] == "vgg16"


def test_a_bad_webapp_backbone_stops_the_app_with_a_clear_message(app_config):
    with pytest.raises(ValueError, match=r"WEBAPP_BACKBONE must be vgg16 or mobilenet_v2 \(got 'resnet'\)"):
        create_app({**app_config, "BACKBONE": "resnet"})
    assert create_app({**app_config, "BACKBONE": " MobileNet_V2 "}).config["BACKBONE"] == "mobilenet_v2"


def test_a_runs_params_can_be_posted_again(client):
    """The run page's "Train again with the same settings" posts run["params"] back as they are."""
    labeled(client, {"beer": 4, "wings": 4})
    first = start(client, {"backbone": "mobilenet_v2", "epochs": 4}).get_json()
    client.post(f"/api/v1/runs/{first['id']}/cancel")
    again = start(client, first["params"])
    assert again.status_code == 202, again.get_json()
    assert again.get_json()["params"] == first["params"]
