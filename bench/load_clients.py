"""The people of bench/load.py: each one a thread with a signed-in `requests` session, doing what the app offers.

A client signs in, then does a seeded random mix of operations: read the Connections list, CREATE a connection,
edit one of its own, TEST one (saved, or from its edit form with the secret typed; the worker runs it and the client
follows it as the page does until it is done), sign in again (right password) or let someone mistype a password,
read its notifications and mark them read; administrators also START TRIAL and notify the users. Every answer is
checked against what the app should say; what it acknowledged is kept, for bench/load.py to find in the database.
"""

import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

TIMEOUT = 120
TEST_BUDGET = 30  # seconds: TEST_TOTAL_TIMEOUT, as bench/load.py sets it
TEST_GRACE = 15  # a TEST not done this long after its budget is an error
# Of the TESTs, how many are the edit form's TEST button (the secret typed, not the stored one), and how many saved
# TESTs have their connection edited while they run.
FORM_TEST_SHARE, EDIT_WHILE_TESTING_SHARE = 1 / 3, 1 / 6
DYNAMICS_CRM = "dynamics-crm"
AVAILABLE = "Connection available"
OK, FOUND, LOCKED_OUT = 200, 302, 429
# How often each operation comes up; administrators also start the trial and notify the users.
MIX = {"list": 30, "create": 12, "edit": 14, "test": 18, "sign_in": 6, "wrong_password": 10, "notifications": 10}
ADMIN_MIX = {**MIX, "start_trial": 3, "notify_users": 3}
JSON = {"Accept": "application/json"}  # as the page's script asks
CREATED = re.compile(r"/connections/(\d+)/$")


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    is_admin: bool
    mistyped_username: str  # whose password this client gets wrong: never signed in, so its failures add up


@dataclass(frozen=True)
class Microsoft:
    """What the connections need to TEST against the simulator."""

    tenant: str
    client_id: str
    secret: str
    url: str


@dataclass
class Tally:
    """What one client saw: timings and errors by kind, and every write the app acknowledged."""

    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # connection pk: its last acknowledged name
    created: int = 0
    edited: int = 0
    tests: list[dict] = field(default_factory=list)  # acknowledged TESTs: run id, connection pk, saved or form
    sign_ins: Counter = field(default_factory=Counter)  # acknowledged, by user name
    wrong_passwords: Counter = field(default_factory=Counter)  # sent, by user name

    def merge(self, other: "Tally") -> None:
        for kind, samples in other.timings.items():
            self.timings[kind] += samples
        self.errors.update(other.errors)
        self.samples += other.samples[: max(0, 20 - len(self.samples))]
        self.names.update(other.names)
        self.created += other.created
        self.edited += other.edited
        self.tests += other.tests
        self.sign_ins.update(other.sign_ins)
        self.wrong_passwords.update(other.wrong_passwords)


class LoadClient:
    def __init__(self, root: str, index: int, person: Person, microsoft: Microsoft, seed: int):
        self.root, self.index, self.person, self.microsoft = root, index, person, microsoft
        self.random = random.Random(seed * 1000 + index)
        self.session = new_session()
        self.tally = Tally()
        self.counter = 0

    def request(self, kind: str, method: str, path: str, expected: tuple[int, ...], session=None, **kwargs):
        """One request, timed; None (and an error counted) unless the app answered as expected."""
        session = session or self.session
        if method == "POST":
            kwargs.setdefault("headers", {})["X-CSRFToken"] = session.cookies.get("csrftoken", "")
        started = time.perf_counter()
        try:
            response = session.request(method, self.root + path, allow_redirects=False, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            return self._error(kind, time.perf_counter() - started, f"{kind}: {type(error).__name__}: {error}")
        self.tally.timings[kind].append(time.perf_counter() - started)
        if response.status_code not in expected:
            return self._error(kind, None, f"{kind}: HTTP {response.status_code} {title_of(response.text)}")
        return response

    def _error(self, kind: str, elapsed: float | None, sample: str) -> None:
        if elapsed is not None:
            self.tally.timings[kind].append(elapsed)
        self.tally.errors[kind] += 1
        if len(self.tally.samples) < 20:
            self.tally.samples.append(sample[:200])
        return None

    # --- what people do ---------------------------------------------------------------------------------

    def sign_in(self, session=None, password: str | None = None, username: str | None = None) -> bool:
        session = session or self.session
        username = username or self.person.username
        wrong = password is not None
        kind = "sign_in_wrong" if wrong else "sign_in"
        if self.request("sign_in_page", "GET", "/accounts/login/", (OK,), session=session) is None:
            return False
        data = {"username": username, "password": password or self.person.password}
        data["csrfmiddlewaretoken"] = session.cookies.get("csrftoken", "")
        if wrong:  # the lockout must count every one sent, whatever the answer
            self.tally.wrong_passwords[username] += 1
        expected = (OK, LOCKED_OUT) if wrong else (FOUND,)
        answered = self.request(kind, "POST", "/accounts/login/", expected, session=session, data=data)
        if answered is not None and not wrong:
            self.tally.sign_ins[username] += 1
        return answered is not None

    def sign_in_elsewhere(self) -> None:
        """The same person signs in on another browser."""
        self.sign_in(session=new_session())

    def mistype_password(self) -> None:
        self.sign_in(session=new_session(), password="not the password", username=self.person.mistyped_username)

    def read_list(self) -> None:
        self.request("list", "GET", "/connections/", (OK,))

    def create(self) -> None:
        if self.request("open_form", "GET", "/connections/new/", (OK,)) is None:
            return
        name = self._new_name("created")
        data = {**self._fields(name), "creation_token": str(uuid.uuid4()), "action": "create"}
        answered = self.request("create", "POST", "/connections/new/", (FOUND,), data=data)
        found = CREATED.search(answered.headers.get("Location", "")) if answered is not None else None
        if answered is not None and not found:
            self._error("create", None, f"create: redirected to {answered.headers.get('Location')}")
        elif found:
            self.tally.names[int(found.group(1))] = name
            self.tally.created += 1

    def edit(self) -> None:
        pk = self._own_connection()
        if pk is not None and self.request("open_form", "GET", f"/connections/{pk}/edit/", (OK,)) is not None:
            self._save_edit(pk)

    def _save_edit(self, pk: int) -> None:
        name = self._new_name("edited")
        data = {**self._fields(name), "client_secret": "", "action": "create"}  # an empty secret keeps the stored
        if self.request("edit", "POST", f"/connections/{pk}/edit/", (FOUND,), data=data) is not None:
            self.tally.names[pk] = name
            self.tally.edited += 1

    def test(self) -> None:
        """TEST one of its own connections, saved or from its edit form, and follow it until it is done; now and
        then the person has the connection's edit form open in another tab, and saves it while the TEST runs."""
        pk = self._own_connection()
        if pk is None:
            return
        how, saved, form = self.random.random(), f"/connections/{pk}/test/", f"/connections/{pk}/edit/"
        if how >= FORM_TEST_SHARE + EDIT_WHILE_TESTING_SHARE:
            self._follow("test", saved, {}, pk)
        elif self.request("open_form", "GET", form, (OK,)) is None:
            return
        elif how >= FORM_TEST_SHARE:  # the edit form open in another tab: saved while the TEST runs
            self._follow("test", saved, {}, pk, meanwhile=lambda: self._save_edit(pk))
        else:
            self._follow("test_form", form, {**self._fields(self.tally.names[pk]), "action": "test"}, pk)

    def _follow(self, kind: str, path: str, data: dict, pk: int, meanwhile=None) -> None:
        """POST the TEST (kind `test_queue`: the answer is at once), do `meanwhile` if given, then read its status as
        the page does (100 ms, then half as long again each time, at most 1 s) until it is done; `kind` times the
        whole TEST."""
        started = time.perf_counter()
        answered = self.request("test_queue", "POST", path, (OK,), headers=dict(JSON), data=data)
        if answered is None:
            return
        run = answered.json()
        self.tally.tests.append({"id": run["id"], "pk": pk, "saved": kind == "test"})
        if meanwhile:
            meanwhile()
        wait, give_up = 0.1, started + TEST_BUDGET + TEST_GRACE
        while not run["done"]:
            if time.perf_counter() > give_up:
                late = f"{kind}: still {run['state']} after {TEST_BUDGET + TEST_GRACE} s"
                self._error(kind, time.perf_counter() - started, late)
                return
            time.sleep(wait)
            wait = min(wait * 1.5, 1.0)
            polled = self.request("test_poll", "GET", run["status_url"], (OK,), headers=dict(JSON))
            if polled is None:
                return
            run = polled.json()
        self.tally.timings[kind].append(time.perf_counter() - started)
        if not run["ok"] or not run["message"].startswith(AVAILABLE):
            self._error(kind, None, f"{kind}: {run['message'][:150]}")

    def read_notifications(self) -> None:
        if self.request("notifications", "GET", "/marketplace/notifications/", (OK,)) is not None:
            self.request("mark_read", "POST", "/marketplace/notifications/read/", (FOUND,))

    def start_trial(self) -> None:
        self.request("start_trial", "POST", f"/marketplace/{DYNAMICS_CRM}/trial/", (FOUND,))

    def notify_users(self) -> None:
        self.request("notify_users", "POST", f"/marketplace/{DYNAMICS_CRM}/notify-users/", (FOUND,))

    # --- the run ----------------------------------------------------------------------------------------

    def run(self, operations: int, signed_in: threading.Barrier, trial_started: threading.Barrier) -> None:
        self.sign_in()
        signed_in.wait()
        if self.person.is_admin:
            self.start_trial()  # every administrator at the same moment
        else:
            self.read_list()
        trial_started.wait()
        self.create()
        actions = self._actions()
        mix = ADMIN_MIX if self.person.is_admin else MIX
        for choice in self.random.choices(list(mix), weights=list(mix.values()), k=operations - 1):
            actions[choice]()

    def _actions(self) -> dict:
        return {
            "list": self.read_list,
            "create": self.create,
            "edit": self.edit,
            "test": self.test,
            "sign_in": self.sign_in_elsewhere,
            "wrong_password": self.mistype_password,
            "notifications": self.read_notifications,
            "start_trial": self.start_trial,
            "notify_users": self.notify_users,
        }

    def _own_connection(self) -> int | None:
        return self.random.choice(list(self.tally.names)) if self.tally.names else None

    def _new_name(self, how: str) -> str:
        self.counter += 1
        return f"Load {self.index:02d}-{self.counter:03d} {how}"

    def _fields(self, name: str) -> dict:
        return {
            "name": name,
            "client_id": self.microsoft.client_id,
            "client_secret": self.microsoft.secret,
            "url": self.microsoft.url,
            "crm_version": "CRMOnline",
            "azure_tenant": self.microsoft.tenant,
            "azure_environment": "GLOBAL",
            "credential_type": "secret",
        }


def new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies: the app is on loopback
    # As browsers do, a GET sent on a kept-alive connection the server closed at that moment is sent again;
    # a POST never is (it counts as an error).
    retry_dropped_get = Retry(total=1, connect=1, read=1, status=0, allowed_methods={"GET"}, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry_dropped_get))
    return session


def title_of(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    return " ".join(found.group(1).split())[:80] if found else page[:80].replace("\n", " ")
