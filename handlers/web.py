"""/web: a one-time sign-in link to the web page (boards, the tree, trends; see bot.webapp)."""

from __future__ import annotations

from bot.conversation import Context, Router
from bot.i18n import N_
from bot.services.web import sessions as websessions


def web_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/web/link/{token}"


def build() -> Router:
    router = Router("web")

    @router.command("web", N_("A sign-in link to the web page"), audience="registered")
    async def web(ctx: Context) -> None:
        assert ctx.person is not None
        token = await websessions.mint_link(ctx.session, ctx.person.id, ctx.now)
        url = web_link(ctx.app.settings.web_base_url, token)
        await ctx.reply(ctx.t._("Your sign-in link to the web page (it works once, for 10 minutes; do not pass it on):")
                        + "\n" + url)

    return router
