"""The admin's autocomplete fields (marketplace) show a posted user again, and survive a forged value."""

import re

import pytest

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

FORMS = [
    ("/admin/marketplace/trial/add/", "started_by"),
    ("/admin/marketplace/subscription/add/", "cancelled_by"),
    ("/admin/marketplace/accessrequest/add/", "requester"),
    ("/admin/marketplace/notification/add/", "recipient"),
]


@pytest.mark.parametrize(("url", "field"), FORMS)
def test_it_shows_a_form_again_when_the_posted_user_is_no_id(admin_client, url, field):
    response = admin_client.post(url, {field: "1¿'\"("})  # what wapiti posted: it was a 500
    assert response.status_code == 200
    assert "Please correct the error" in response.content.decode() or "errornote" in response.content.decode()


@pytest.mark.parametrize(("url", "field"), FORMS)
def test_it_still_shows_the_posted_user_selected(admin_client, admin_user, url, field):
    page = admin_client.post(url, {field: str(admin_user.pk)}).content.decode()
    select = re.search(rf'<select name="{field}".*?</select>', page, re.S).group(0)
    assert re.search(rf'<option value="{admin_user.pk}" selected>admin</option>', select)


@pytest.mark.parametrize("field", ["started_by", "cancelled_by"])
def test_an_id_too_large_for_the_database_is_a_form_error_not_a_500(admin_client, dynamics_crm, field):
    data = {"connector": dynamics_crm.pk, field: "99999999999999999999", "billing_day": "5"}
    response = admin_client.post("/admin/marketplace/subscription/add/", data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
