import pytest

from supermarket.roles import MANAGER, user_set_role


@pytest.fixture
def manager(client, django_user_model):
    """The test client, logged in as a store manager (the reports' role)."""
    user = django_user_model.objects.create_user("boss", password="x")
    user_set_role(user=user, role=MANAGER)
    client.force_login(user)
    return client
