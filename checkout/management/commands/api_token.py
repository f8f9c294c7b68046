from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from checkout.services import api_token_for


class Command(BaseCommand):
    help = "Print a user's API token (Authorization: Token <key>), creating it if needed."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        self.stdout.write(api_token_for(user).key)
