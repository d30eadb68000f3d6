"""The Content-Security-Policy in a real browser: the check every browser
test runs (tests/browser.py) catches a violation, and Django's admin works
under the policy."""

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.browser import browser, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_browser_check_fails_a_test_whose_page_violates_the_policy(product_server, world):
    base = f"http://acme.localhost:{product_server.port}"
    with pytest.raises(pytest.fail.Exception, match="style-src"), browser() as chromium:
        page = sign_in(chromium.new_context(), base, "customer", PASSWORD)
        # What a template's <style> block would be: refused, and reported.
        page.evaluate("""() => {
                const style = document.createElement("style");
                style.textContent = "body { color: red; }";
                document.head.append(style);
            }""")


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_admin_pages_work_under_the_policy(product_server, world, host):
    """Every model the admin index lists: its list, its add form, and the
    first object's change form, as that site's admin (the operator on the
    public host, the tenant's admin on its host), with no CSP violation (the
    `browser()` check) and no script error."""
    username = "operator" if host == "localhost" else "admin"
    connections.close_all()  # the server process must see the users: committed, nothing held
    base = f"http://{host}:{product_server.port}"
    with browser() as chromium:
        page = chromium.new_context().new_page()
        script_errors = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")

        links = page.eval_on_selector_all(
            "#content-main a[href^='/admin/']", "links => [...new Set(links.map(link => link.pathname))]"
        )
        assert any(link.endswith("/add/") for link in links), links
        visited = []
        for path in links:
            response = page.goto(f"{base}{path}")
            assert response.status == 200, (path, response.status)
            visited.append(path)
            first = page.locator("#result_list tbody th a").first
            if not path.endswith("/add/") and first.count():
                first.click()
                page.wait_for_load_state()
                expect(page.locator("#content-main form")).to_be_visible()
                visited.append(page.url)
        if host == "localhost":
            # Inline formsets are built by admin's JS: add a domain row.
            page.goto(f"{base}/admin/tenants/tenant/{world.globex.tenant.pk}/change/")
            rows = page.locator(".dynamic-domains, .dynamic-domain_set")
            before = rows.count()
            page.get_by_text("Add another Domain").click()
            expect(rows).to_have_count(before + 1)
        assert not script_errors, script_errors
        assert len(visited) >= 4, visited
    connections.close_all()
