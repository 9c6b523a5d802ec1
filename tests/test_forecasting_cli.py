"""The forecasting backtest on the real bundled series, with small settings."""

import json
import math

import pytest
import torch

from pipelines import forecasting


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()  # the command sets its own
    yield
    torch.set_num_threads(threads)


def run_json(capsys, *args):
    forecasting.main([*args, "--json"])
    return json.loads(capsys.readouterr().out)


def check_schema(result, dataset, horizon, origins, methods):
    assert list(result) == ["dataset", "horizon", "origins", "methods"]
    assert (result["dataset"], result["horizon"], result["origins"]) == (dataset, horizon, origins)
    assert set(result["methods"]) == methods
    for scores in result["methods"].values():
        assert list(scores) == ["mae", "rmse", "mase"]
        assert all(math.isfinite(v) and v >= 0 for v in scores.values())
        assert scores["rmse"] >= scores["mae"]


def test_inflation_backtest_json_and_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "plots" / "inflation.png"
    result = run_json(capsys, "--dataset", "inflation", "--origins", "3", "--plot", str(plot))
    methods = {"lstm", "seasonal_naive", "naive", "hgb_lags", "ridge_lags", "ets", "arima"}
    check_schema(result, "inflation", 4, 3, methods)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in plot.parent.iterdir()] == ["inflation.png"]  # no temporary left


def test_electricity_backtest_short_horizon(capsys):
    result = run_json(capsys, "--dataset", "electricity", "--horizon", "4", "--origins", "2")
    methods = {"lstm", "seasonal_naive", "naive", "hgb_lags", "ridge_lags", "ets"}
    check_schema(result, "electricity", 4, 2, methods)
    # MASE is MAE over one scale, the same for every method of a backtest.
    ratios = {s["mae"] / s["mase"] for s in result["methods"].values()}
    assert max(ratios) == pytest.approx(min(ratios))


def test_text_table(capsys):
    forecasting.main(["--dataset", "inflation", "--origins", "2", "--horizon", "2"])
    out = capsys.readouterr().out
    assert "MASE scale: in-sample MAE of the annual (4 quarters) seasonal naive" in out
    assert out.count("\n") == 3 + 7


@pytest.mark.parametrize("option", ["--horizon", "--origins", "--threads"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_non_positive_settings_are_refused(capsys, option, value):
    # 0 once fell through to the dataset's default instead of being refused.
    with pytest.raises(SystemExit) as excinfo:
        forecasting.main(["--dataset", "inflation", option, value])
    assert excinfo.value.code == 2
    assert "--horizon, --origins and --threads must be positive" in capsys.readouterr().err
