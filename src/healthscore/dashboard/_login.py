"""The sign-in and sign-out pages."""

from __future__ import annotations

from healthscore.dashboard._html import Html, fill


def login_form(token: str, next_path: str, problem: str = "") -> Html:
    error = fill('<p class="error" role="alert" id="login-error">{p}</p>', p=problem)
    return fill(
        '<div class="login"><h1>healthscore</h1><p class="note">Sign in with an API key '
        "(<code>healthscore keys create --role viewer --name you</code>). The key is checked "
        "and forgotten: the browser keeps only a session id.</p>{error}"
        '<form method="post" action="/ui/login" id="login-form">'
        '<input type="hidden" name="csrf" value="{token}">'
        '<input type="hidden" name="next" value="{next}">'
        '<label for="key">API key</label>'
        '<input type="password" id="key" name="key" required autocomplete="off" '
        'autofocus spellcheck="false">'
        '<button type="submit">Sign in</button></form></div>',
        error=error if problem else Html(""),
        token=token,
        next=next_path,
    )


def logout_form(csrf: str) -> Html:
    return fill(
        '<div class="login"><h1>Log out?</h1><form method="post" action="/ui/logout">'
        '<input type="hidden" name="csrf" value="{csrf}"><button type="submit">Log out'
        "</button></form></div>",
        csrf=csrf,
    )


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a dashboard path only, never another site."""
    if (
        path
        and path.startswith("/ui/")
        and "//" not in path
        and "\\" not in path
        and path.isprintable()
        and not path.startswith(("/ui/login", "/ui/logout", "/ui/static/"))
    ):
        return path
    return "/ui/"
