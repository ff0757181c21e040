"""A short journey through the client openapi-python-client generated from the gateway's merged
/openapi.json (e2e/tests/generated_client.rs generates it and runs this): the admin creates an
event, a player registers, logs in, lists events, waits until eligible, claims and is approved.
Exits non-zero at the first step that does not answer as documented.

Environment: BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD, RUN_ID; PYTHONPATH holds the generated package.
"""

import datetime as dt
import json
import os
import sys
import time

from liveops_client import AuthenticatedClient, Client
from liveops_client.api.auth import post_auth_login, post_auth_register
from liveops_client.api.claims import get_claims_id, post_events_id_claims
from liveops_client.api.events import get_events, get_events_id_eligibility, post_events
from liveops_client.models import LoginRequest, NewEvent, Problem, RegisterRequest, TokenResponse

BASE_URL = os.environ["BASE_URL"]
RUN_ID = os.environ["RUN_ID"]


def step(what, response, *expected):
    """The response's JSON body, after checking its status is one of `expected`."""
    if response.status_code not in expected:
        sys.exit(f"{what}: expected {expected}, got {response.status_code}: {response.content!r}")
    print(f"ok  {what}: {int(response.status_code)}")
    return json.loads(response.content) if response.content else None


def log_in(email, password):
    anonymous = Client(base_url=BASE_URL, raise_on_unexpected_status=True)
    r = post_auth_login.sync_detailed(
        client=anonymous, body=LoginRequest(email=email, password=password)
    )
    step(f"log in {email}", r, 200)
    if not isinstance(r.parsed, TokenResponse):
        sys.exit(f"login parsed as {type(r.parsed).__name__}, not TokenResponse")
    return AuthenticatedClient(
        base_url=BASE_URL, token=r.parsed.access_token, raise_on_unexpected_status=True
    )


def eventually(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.2)


def main():
    admin = log_in(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"])
    now = dt.datetime.now(dt.timezone.utc)
    event = NewEvent.from_dict(
        {
            "title": f"Generated client {RUN_ID}",
            "description": "one login day",
            "startsAt": (now - dt.timedelta(days=1)).isoformat(),
            "endsAt": (now + dt.timedelta(days=7)).isoformat(),
            "timezone": "UTC",
            "status": "ACTIVE",
            "conditions": [{"type": "LOGIN_DAYS", "threshold": 1}],
            "rewards": [{"type": "POINT", "quantity": 10}],
            "maxClaims": 5,
        }
    )
    created = step("admin creates an event", post_events.sync_detailed(client=admin, body=event), 201)
    event_id = created["id"]

    email = f"generated-{RUN_ID}@e2e.test"
    password = "generated-client-password"
    anonymous = Client(base_url=BASE_URL, raise_on_unexpected_status=True)
    body = RegisterRequest(email=email, password=password, nickname="generated")
    step("register", post_auth_register.sync_detailed(client=anonymous, body=body), 201)
    player = log_in(email, password)

    listed = step("list events", get_events.sync_detailed(client=player), 200)
    if event_id not in [e["id"] for e in listed["items"]]:
        sys.exit(f"the new event {event_id} is not listed: {listed}")

    # The login day arrives asynchronously from auth-service's user.logged_in.
    def eligible():
        r = get_events_id_eligibility.sync_detailed(event_id, client=player)
        return True if step("eligibility", r, 200)["eligible"] else None

    eventually("eligibility", eligible)
    claim = step("claim", post_events_id_claims.sync_detailed(event_id, client=player), 200, 202)

    def decided():
        r = get_claims_id.sync_detailed(claim["id"], client=player)
        status = step("read the claim", r, 200)["status"]
        return None if status == "PENDING" else status

    status = eventually("the decision", decided)
    if status != "APPROVED":
        sys.exit(f"claim {claim['id']} is {status}, not APPROVED")
    # A documented error parses as the shared Problem schema.
    again = post_events_id_claims.sync_detailed(event_id, client=player)
    step("second claim", again, 409)
    if not isinstance(again.parsed, Problem):
        sys.exit(f"409 parsed as {type(again.parsed).__name__}, not Problem")
    print(f"journey through the generated client: claim {claim['id']} APPROVED")


if __name__ == "__main__":
    main()
