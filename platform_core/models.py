from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person of one tenant (or an operator, in the public schema).

    The table exists in every schema, so user ids repeat across tenants:
    never use a user id without the tenant it belongs to.
    """
