"""Polling: calls the parent's poll<Name>() at the interval; NotSupportedError otherwise."""

from __future__ import annotations

from foundation_helpers import WAIT, loop  # noqa: F401  (fixture)

from incore.objects.foundation import DataObject, Polling, Timer


class Sensor(DataObject, register=False):
    """A DataObject that can refresh its data (as S7Variable and ModbusRegister do)."""

    __slots__ = ("polls",)

    def __init__(self, **kw):
        self.polls = 0
        super().__init__(**kw)

    def pollData(self) -> None:
        self.polls += 1
        self.data = self.polls


def errors_of(polling: Polling) -> list[str]:
    seen: list[str] = []
    polling.errorOccurred.connect(lambda: seen.append(polling.errorString))
    return seen


def test_polls_once_at_start_and_then_every_interval(loop):
    sensor = Sensor(objects=[Polling(on="data", interval=10)])
    polling = sensor.children()[0]
    sensor.complete()
    assert sensor.polls == 0  # the first poll is posted: the whole tree completes first
    assert loop.run_until(lambda: sensor.polls >= 3, WAIT)
    assert sensor.data == sensor.polls
    assert polling.timestamp > 0 and polling.error == Polling.NoError


def test_a_parent_without_a_poll_method_gives_not_supported_error(loop):
    polling = Polling(on="data")
    seen = errors_of(polling)
    DataObject(objects=[polling]).complete()
    assert polling.error == Polling.NotSupportedError
    assert polling.errorString == "DataObject can not poll 'data' (it has no pollData() method)"
    assert seen == [polling.errorString]


def test_an_unknown_property_or_none_at_all_is_reported(loop):
    typo = Polling(on="dta")
    Sensor(objects=[typo]).complete()
    assert typo.error == Polling.NotSupportedError
    assert "has no property 'dta' to poll (did you mean 'data'?)" in typo.errorString
    empty = Polling()
    Sensor(objects=[empty]).complete()
    assert "'on' names no property" in empty.errorString
    orphan = Polling(on="data")
    orphan.complete()
    assert orphan.errorString == "Polling has no parent to poll"


def test_fixing_on_clears_the_error_and_starts_polling(loop):
    sensor = Sensor(objects=[Polling(on="dta", interval=10)])
    polling = sensor.children()[0]
    sensor.complete()
    assert polling.error == Polling.NotSupportedError
    polling.on = "data"
    assert polling.error == Polling.NoError and polling.errorString == ""
    assert loop.run_until(lambda: sensor.polls >= 2, WAIT)


def test_running_false_pauses_polling(loop):
    sensor = Sensor(objects=[Polling(on="data", interval=5, running=False)])
    polling = sensor.children()[0]
    reference = Timer(interval=30)
    ticks = []
    reference.triggered.connect(lambda: ticks.append(1))
    sensor.complete()
    reference.complete()
    assert loop.run_until(lambda: len(ticks) >= 2, WAIT)
    assert sensor.polls == 0
    polling.running = True
    assert loop.run_until(lambda: sensor.polls >= 2, WAIT)


def test_poll_now_and_shutdown(loop):
    sensor = Sensor(objects=[Polling(on="data", interval=60_000)])
    polling = sensor.children()[0]
    sensor.complete()
    assert loop.run_until(lambda: sensor.polls == 1, WAIT)
    polling.poll()
    assert sensor.polls == 2
    sensor.shutdown()
    polling.poll()
    assert sensor.polls == 2


def test_a_failing_poll_is_logged_and_polling_goes_on(loop, caplog):
    class Flaky(DataObject, register=False):
        __slots__ = ("calls",)

        def __init__(self, **kw):
            self.calls = 0
            super().__init__(**kw)

        def pollData(self):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("device did not answer")

    flaky = Flaky(objects=[Polling(on="data", interval=5)])
    flaky.complete()
    assert loop.run_until(lambda: flaky.calls >= 3, WAIT)
    assert "device did not answer" in caplog.text


def test_polling_is_a_modifier():
    assert Polling.modifier and not DataObject.modifier
