"""The ``argoml`` command line."""

from __future__ import annotations

import json

import pytest

from argoml.cli import main
from tests.sinks import recording_sink


def test_ping_posts_a_pingsource_event_with_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    with recording_sink() as sink:
        assert main(["ping", sink.url, "--data", '{"dryRun": true}', "--source", "ml/by-hand"]) == 0
        (received,) = sink.wait_for(1)
    assert received.headers["ce-type"] == "dev.knative.sources.ping"
    assert received.headers["ce-source"] == "/apis/v1/namespaces/ml/pingsources/by-hand"
    assert json.loads(received.body) == {"dryRun": True}


def test_ping_exits_1_when_the_function_refuses() -> None:
    with recording_sink() as sink:
        sink.answers = [400]
        assert main(["ping", sink.url]) == 1


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err
