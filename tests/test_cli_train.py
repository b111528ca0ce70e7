"""`flask train` and `flask predict`: the same services, run in the CLI process (it may import TensorFlow)."""

import csv
import io

import pytest

from tests.images import class_photo, text_file

pytestmark = pytest.mark.slow


@pytest.fixture
def dataset(tmp_path):
    """A folder laid out as <class>/*.jpg, 8 photos per class."""
    root = tmp_path / "photos"
    for k, name in enumerate(["beer", "wings"]):
        (root / name).mkdir(parents=True)
        for i in range(8):
            (root / name / f"{i}.jpg").write_bytes(class_photo(k, i))
    return root


def test_train_then_predict_from_the_command_line(runner, dataset, tmp_path):
    assert "16 stored" in runner.invoke(args=["import", str(dataset)]).output
    result = runner.invoke(args=["train", "--epochs", "20", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "succeeded: test accuracy" in result.output
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "w.jpg").write_bytes(class_photo(1, 50))
    (tmp_path / "new" / "notes.jpg").write_bytes(text_file())
    result = runner.invoke(args=["predict", str(tmp_path / "new"), "--csv"])
    assert result.exit_code == 0, result.output
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert rows["w.jpg"]["label"] == "wings"
    assert abs(float(rows["w.jpg"]["beer"]) + float(rows["w.jpg"]["wings"]) - 1) < 1e-3
    assert rows["notes.jpg"]["label"] == ""


def test_train_refuses_an_untrainable_dataset_with_a_clear_message(runner):
    result = runner.invoke(args=["train"])
    assert result.exit_code != 0
    assert "at least two classes" in result.output


def test_predict_without_a_model_says_so(runner, tmp_path):
    (tmp_path / "a.jpg").write_bytes(class_photo(0, 1))
    result = runner.invoke(args=["predict", str(tmp_path / "a.jpg")])
    assert result.exit_code != 0
    assert "no trained model" in result.output


def test_train_chooses_the_backbone_from_the_command_line(runner, app, dataset):
    for i in range(8, 17):  # 17 beers to 8 wings: Train warns, and trains
        (dataset / "beer" / f"{i}.jpg").write_bytes(class_photo(0, i))
    runner.invoke(args=["import", str(dataset)])
    result = runner.invoke(args=["train", "--backbone", "mobilenet_v2", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert "started (mobilenet_v2)" in result.output and "succeeded" in result.output
    assert 'warning: Classes are imbalanced: "beer" has 17 photos and "wings" only 8' in result.output
    with app.app_context():
        from webapp.services.runs import get_run

        params = get_run(1).params
    assert (params["backbone"], params["epochs"]) == ("mobilenet_v2", 2)


def test_train_refuses_an_unknown_backbone(runner):
    result = runner.invoke(args=["train", "--backbone", "resnet"])
    assert result.exit_code != 0
    assert "'resnet' is not one of 'vgg16', 'mobilenet_v2'" in result.output
