"""Headless Chromium for page tests: Debian's chromium, with the flags it needs in a container."""

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def admin_login(page, base_url: str, username: str, password: str) -> None:
    """Log the page in through the admin's login form, and wait for the admin index."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/admin/")
