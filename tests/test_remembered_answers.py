"""Whole answers remembered for requests repeated byte for byte (`SandboxApp._decide`): the same bytes
as a fresh answer, every request journaled and counted, and forgotten whenever the answer could change
(a token's `exp` passed, another day, another snapshot, a rate counter, `Prefer`)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from sandbox.load.snapshot import build_snapshot
from sandbox.rules.matching import MatchMode
from sandbox.serve.app import Decided, SandboxApp
from sandbox.serve.pipeline import Services
from sandbox.serve.ratelimit import RateLimiter
from sandbox.web import create_app
from tests.clock import FakeClock
from tests.conftest import ROOT
from tests.request_path import SECRET, TODAY, snapshot, token

UNITE = "/v3/insee/sirene/unites_legales/130025265"
TRACKING = b"recipient=13002526500013&context=test&object=test"
LIASSES = "/v3/dgfip/unites_legales/130025265/liasses_fiscales/2024"
QF = "/v3/dss/quotient_familial/identite"
QF_HIT = (
    b"recipient=13002526500013&nomNaissance=MARTIN&prenoms[]=Camille&prenoms[]=Louise&anneeDateNaissance=1988"
    b"&moisDateNaissance=3&jourDateNaissance=21&sexeEtatCivil=F&codeCogInseePaysNaissance=99100"
    b"&codeCogInseeCommuneNaissance=75056"
)
NOW = 1_800_000_000.0


def _ask(app: SandboxApp, path: str, query: bytes, bearer: str) -> Decided:
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {bearer}".encode())]
    decided = app.answer_now("GET", path, path.encode(), query, headers)
    assert decided is not None
    app.settle(decided)
    return decided


def _wire(decided: Decided) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    return decided.status, decided.headers, decided.body


def test_a_repeated_request_gets_the_same_bytes_and_is_journaled_each_time() -> None:
    app = create_app(snapshot(), Services(fixed_today=TODAY))
    fresh = create_app(snapshot(), Services(fixed_today=TODAY))
    bearer = token()
    answers = [_ask(app, UNITE, TRACKING, bearer) for _ in range(4)]
    assert answers[0].status == 200
    assert {_wire(a) for a in answers} == {_wire(_ask(fresh, UNITE, TRACKING, bearer))}
    assert answers[2].answered is answers[1].answered  # the third came from memory
    assert answers[1].answered is not answers[0].answered  # the second was a first lookup: computed
    assert [entry.status for entry in app.journal.entries()] == [200, 200, 200, 200]


def test_routes_that_do_not_exist_or_no_longer_exist_are_remembered() -> None:
    app = create_app(snapshot(), Services(fixed_today=TODAY))
    for path, status in (("/v3/nothing/here", 404), ("/v2/etablissements/13002526500013", 410)):
        answers = [_ask(app, path, b"", "no-token") for _ in range(3)]
        assert [a.status for a in answers] == [status] * 3
        assert answers[2].answered is answers[1].answered


def test_a_refused_token_is_computed_every_time() -> None:
    app = create_app(snapshot(), Services(fixed_today=TODAY))
    answers = [_ask(app, UNITE, TRACKING, "not-a-token") for _ in range(3)]
    assert [a.status for a in answers] == [401] * 3
    assert len({id(a.answered) for a in answers}) == 3


def test_a_remembered_answer_ends_with_its_token() -> None:
    clock = FakeClock(NOW)
    app = create_app(snapshot(), Services(fixed_today=TODAY, clock=clock))
    expiring = token(expires_in=100, now=int(NOW))  # exp = NOW + 100
    assert [_ask(app, UNITE, TRACKING, expiring).status for _ in range(3)] == [200, 200, 200]
    clock.now = NOW + 100  # `exp` itself is still valid
    assert _ask(app, UNITE, TRACKING, expiring).status == 200
    clock.now = NOW + 100.5
    assert _ask(app, UNITE, TRACKING, expiring).status == 401


def test_a_remembered_answer_is_for_one_day() -> None:
    """Born today is refused (00354-like dates must be up to yesterday); the next day the same request passes."""
    clock = FakeClock(NOW)
    app = create_app(snapshot(), Services(clock=clock))
    day = datetime.date.fromtimestamp(NOW)
    query = (
        f"recipient=13002526500013&nomNaissance=MARTIN&prenoms[]=Camille&anneeDateNaissance={day.year}"
        f"&moisDateNaissance={day.month}&jourDateNaissance={day.day}&sexeEtatCivil=F"
        "&codeCogInseePaysNaissance=99100&codeCogInseeCommuneNaissance=75056"
    ).encode()
    bearer = token()
    assert [_ask(app, QF, query, bearer).status for _ in range(3)] == [422, 422, 422]
    clock.now = NOW + 86_400
    assert _ask(app, QF, query, bearer).status == 404


def test_a_new_snapshot_forgets_the_remembered_answers() -> None:
    app = create_app(snapshot(), Services(fixed_today=TODAY))
    bearer = token()
    before = [_ask(app, UNITE, TRACKING, bearer) for _ in range(3)]
    assert before[2].answered is before[1].answered
    app.holder.swap(build_snapshot(ROOT, MatchMode.DOCUMENTED, secrets=[SECRET]))
    after = [_ask(app, UNITE, TRACKING, bearer) for _ in range(2)]
    assert after[0].answered is not before[2].answered
    assert after[0].snapshot is app.holder.current and after[1].snapshot is app.holder.current


def test_a_token_without_exp_is_remembered_for_good() -> None:
    clock = FakeClock(NOW)
    app = create_app(snapshot(), Services(fixed_today=TODAY, clock=clock))
    lasting = token(expires_in=None)
    answers = [_ask(app, UNITE, TRACKING, lasting) for _ in range(2)]
    clock.now = NOW + 100 * 365 * 86_400
    answers.append(_ask(app, UNITE, TRACKING, lasting))
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[2].answered is answers[1].answered


def test_maintenance_windows_not_in_force_do_not_stop_remembering() -> None:
    """Without `--maintenance`, the CNAF window of the QF operation plays no part: its answers are kept."""
    app = create_app(snapshot(), Services(fixed_today=TODAY))
    answers = [_ask(app, QF, QF_HIT, token()) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[2].answered is answers[1].answered


def test_with_a_rate_limit_every_answer_is_computed() -> None:
    """Even at a clock time under 1 (what `same_until` says of an answer never to keep is 0)."""
    clock = FakeClock(0.5)
    app = create_app(snapshot(), Services(fixed_today=TODAY, clock=clock, limiter=RateLimiter(clock=clock)))
    bearer = token()
    answers = [_ask(app, UNITE, TRACKING, bearer) for _ in range(4)]
    remaining = [dict(a.headers).get(b"ratelimit-remaining") for a in answers]
    assert len(set(remaining)) == 4, remaining
    assert len({id(a.answered) for a in answers}) == 4


def test_with_maintenance_windows_every_answer_is_computed() -> None:
    """CNAF & MSA's window opens on Sundays at 23:00 Paris: a request answered (three times) at
    22:59:59 is refused at 23:00."""

    def paris(hour: int, minute: int, second: int) -> float:
        return datetime.datetime(2026, 4, 26, hour, minute, second, tzinfo=ZoneInfo("Europe/Paris")).timestamp()

    clock = FakeClock(paris(22, 59, 59))
    app = create_app(snapshot(), Services(maintenance=True, clock=clock, fixed_today=TODAY))
    bearer = token()
    assert [_ask(app, QF, QF_HIT, bearer).status for _ in range(3)] == [200, 200, 200]
    clock.now = paris(23, 0, 0)
    assert _ask(app, QF, QF_HIT, bearer).status == 503


def test_a_lookup_that_reads_the_request_facts_is_computed_every_time() -> None:
    """Staging mode: the DGFIP liasses key reads the request id (drawn when none is sent)."""
    app = create_app(snapshot(MatchMode.STAGING), Services(fixed_today=TODAY))
    bearer = token()
    answers = [_ask(app, LIASSES, TRACKING, bearer) for _ in range(3)]
    assert len({id(a.answered) for a in answers}) == 3


def test_the_memory_is_bounded_in_bytes() -> None:
    """Repeated requests with 8 KiB headers: kept within the byte bound (and the entry bound)."""
    app = create_app(snapshot(), Services(fixed_today=TODAY))
    bearer = token()
    for n in range(1200):
        headers = [(b"authorization", f"Bearer {bearer}".encode()), (b"x-request-id", b"%d" % n + b"x" * 8000)]
        for _ in range(2):
            decided = app.answer_now("GET", UNITE, UNITE.encode(), TRACKING, headers)
            assert decided is not None
    assert 0 < len(app._answers) < 1200
    assert app._answers.bytes <= app._answers.max_bytes


def test_requests_with_a_new_request_id_each_are_not_kept() -> None:
    """Many clients send a new `X-Request-Id` with every request: nothing is kept for them."""
    app = create_app(snapshot(), Services(fixed_today=TODAY))
    bearer = token()
    for n in range(50):
        headers = [(b"authorization", f"Bearer {bearer}".encode()), (b"x-request-id", b"id-%d" % n)]
        decided = app.answer_now("GET", UNITE, UNITE.encode(), TRACKING, headers)
        assert decided is not None and decided.status == 200
    assert len(app._answers) == 0
    repeated = [(b"authorization", f"Bearer {bearer}".encode()), (b"x-request-id", b"same")]
    for _ in range(2):
        app.answer_now("GET", UNITE, UNITE.encode(), TRACKING, repeated)
    assert len(app._answers) == 1
