"""The parts the web process may import: no TensorFlow, metrics, parameter checks."""

import subprocess
import sys

import numpy as np
import pytest

from webapp.ml.metrics import evaluate
from webapp.params import BACKBONE_DEFAULTS, MOBILENET_V2_LAYERS, VGG16_LAYERS, TrainParams, defaults


def test_light_modules_do_not_import_tensorflow(repo_root):
    code = (
        "import sys, webapp.ml, webapp.ml.metrics, webapp.params, webapp.ml.errors, webapp.ml.features, "
        "webapp.ml.images; heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_metrics_on_a_known_confusion():
    labels = ["beer", "wings", "fries"]
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 0, 2, 2, 1]
    probs = np.eye(3)[y_pred] * 0.8 + 0.05
    result = evaluate(y_true, probs, labels)
    assert result["labels"] == labels
    assert result["confusion_matrix"] == [[3, 1, 0], [1, 2, 0], [0, 1, 2]]
    assert result["accuracy"] == pytest.approx(0.7)
    beer = result["per_class"]["beer"]
    assert beer["precision"] == pytest.approx(3 / 4)
    assert beer["recall"] == pytest.approx(3 / 4)
    assert beer["f1"] == pytest.approx(3 / 4)
    assert beer["support"] == 4
    wings = result["per_class"]["wings"]
    assert wings["precision"] == pytest.approx(2 / 4)
    assert wings["recall"] == pytest.approx(2 / 3)
    assert wings["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert result["per_class"]["fries"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )


def test_metrics_edge_cases():
    empty = evaluate([], np.zeros((0, 2)), ["a", "b"])
    assert empty["accuracy"] is None
    assert empty["confusion_matrix"] == [[0, 0], [0, 0]]
    never = evaluate([0, 0], np.array([[0.9, 0.1], [0.8, 0.2]]), ["a", "b"])
    assert never["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    with pytest.raises(ValueError, match="outside"):
        evaluate([2], np.array([[0.5, 0.5]]), ["a", "b"])


def test_train_params_defaults_are_the_articles():
    params = TrainParams()
    assert (params.epochs, params.batch_size, params.learning_rate, params.trainable_layers) == (
        5,
        32,
        1e-4,
        4,
    )
    assert TrainParams.from_dict({"epochs": 8, "learning_rate": 0.001, "batch_size": None}).to_dict() == {
        "epochs": 8,
        "batch_size": 32,
        "learning_rate": 0.001,
        "trainable_layers": 4,
        "optimizer": "rmsprop",
        "backbone": "vgg16",
        "seed": 0,
    }


def test_each_backbone_has_its_own_defaults_and_a_stored_run_without_backbone_is_vgg16():
    mobile = TrainParams(backbone="mobilenet_v2")
    assert (mobile.optimizer, mobile.learning_rate, mobile.trainable_layers, mobile.epochs) == (
        "adam",
        1e-3,
        3,
        10,
    )
    assert mobile.to_dict() == {**BACKBONE_DEFAULTS["mobilenet_v2"], "backbone": "mobilenet_v2", "seed": 0}
    # A setting given is kept; only the ones left out take the backbone's defaults.
    assert TrainParams(backbone="mobilenet_v2", epochs=3).to_dict()["epochs"] == 3
    old_run = {"epochs": 5, "batch_size": 32, "learning_rate": 1e-4, "trainable_layers": 4}
    assert TrainParams.from_dict(old_run) == TrainParams()
    assert defaults("mobilenet_v2")["max_trainable_layers"] == MOBILENET_V2_LAYERS
    assert defaults("vgg16")["trainable_layers_choices"] == "0-18"


def test_mobilenet_trainable_layers_must_end_at_a_block_boundary():
    assert TrainParams(backbone="mobilenet_v2", trainable_layers=20).trainable_layers == 20
    with pytest.raises(ValueError, match=r"block boundary: one of 0-11, 20, 29-38, .*136-153 \(got 12\)"):
        TrainParams(backbone="mobilenet_v2", trainable_layers=12)
    with pytest.raises(ValueError, match="from 0 to 153"):
        TrainParams(backbone="mobilenet_v2", trainable_layers=154)
    # VGG16 keeps its own limit.
    with pytest.raises(ValueError, match="from 0 to 18"):
        TrainParams(trainable_layers=19)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("epochs", 0, "epochs must be a whole number from 1 to 200"),
        ("epochs", 201, "epochs must be"),
        ("epochs", 2.5, "epochs must be"),
        ("epochs", True, "epochs must be"),
        ("batch_size", 513, "batch_size must be a whole number from 1 to 512"),
        ("learning_rate", 0, "learning_rate must be a number above 0 and at most 1"),
        ("learning_rate", 1.5, "learning_rate must be"),
        ("learning_rate", float("nan"), "learning_rate must be"),
        ("learning_rate", "0.1", "learning_rate must be"),
        ("trainable_layers", VGG16_LAYERS + 1, f"from 0 to {VGG16_LAYERS}"),
        ("trainable_layers", -1, "trainable_layers must be"),
        ("optimizer", "sgd", "optimizer must be one of rmsprop, adam"),
        ("optimizer", 3, "optimizer must be one of"),
        ("backbone", "resnet50", "backbone must be one of vgg16, mobilenet_v2"),
        ("backbone", ["vgg16"], "backbone must be one of"),
    ],
)
def test_train_params_reject_bad_values(field, value, words):
    with pytest.raises(ValueError, match=words):
        TrainParams(**{field: value})


def test_train_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="Unknown training parameter"):
        TrainParams.from_dict({"epoch": 3})
