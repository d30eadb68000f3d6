from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def inbox(request):
    """The inbox page; its list, read state and preferences come from the API and the socket."""
    return render(request, "alerts/inbox.html")
