"""Self-test of the fake Discord: a tiny discord.py bot, defined here, against the real wire.

The bot is deliberately small (a GroupCog ``/harness`` with a plain command, an autocomplete,
a deferred command with a file, and misbehaving commands; a persistent view with a DynamicItem;
raw reaction listeners) so that each test states one behaviour of the fake that the project's
real end-to-end tests rely on.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.e2e.conftest import point_discord_py_at, running_bot
from tests.fakes.fake_discord import (
    CommandNotAvailable,
    FakeDiscord,
    InteractionRejected,
    Permission,
)

pytestmark = pytest.mark.e2e

PAPERS = [f"Paper {n:02d}: scaling llamas" for n in range(30)]
BIBTEX = b"@article{llama2023,\n  title = {LLaMA},\n}\n"
BOOKMARK = "🔖"


class PaperButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"paper:(?P<id>[\d.]+)"):
    """A button whose custom_id carries the paper id, so it works on any old message."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(discord.ui.Button(label="Open", custom_id=f"paper:{paper_id}"))
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PaperButton:
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"paper {self.paper_id}", ephemeral=True)


class BookmarkView(discord.ui.View):
    """A persistent view: registered once with add_view, answers clicks on any message."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Bookmark", custom_id="harness:bookmark")
    async def bookmark(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.send_message(f"bookmarked by {interaction.user}", ephemeral=True)


class HarnessCog(commands.GroupCog, group_name="harness", group_description="Fake self-test"):
    def __init__(self, bot: HarnessBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(description="Answer at once")
    async def ping(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"pong {interaction.user.name}")

    @app_commands.command(description="Summarise a paper")
    @app_commands.describe(paper="Title of the paper")
    async def summary(self, interaction: discord.Interaction, paper: str) -> None:
        await interaction.response.send_message(f"summary of {paper}", ephemeral=True)

    @summary.autocomplete("paper")
    async def summary_paper(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        # "*" asks for every paper: more than Discord's 25 choices, which the fake refuses.
        matches = PAPERS if current == "*" else [p for p in PAPERS if current in p][:25]
        return [app_commands.Choice(name=p, value=p) for p in matches]

    @app_commands.command(description="Defer, then send a file as a followup")
    async def export(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        file = discord.File(io.BytesIO(BIBTEX), filename="bookmarks.bib")
        await interaction.followup.send("your reading list", file=file, ephemeral=True)

    @app_commands.command(description="Answer twice (the second time must fail)")
    async def twice(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        interaction.response._response_type = None  # defeat discord.py's own guard on purpose
        await interaction.response.send_message("second")

    @app_commands.command(description="Checked by the bot: Manage Server only")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def manage(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("managed", ephemeral=True)


@app_commands.command(description="Hidden by Discord from members without Manage Server")
@app_commands.default_permissions(manage_guild=True)
async def admin(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("ok", ephemeral=True)


class HarnessBot(commands.Bot):
    def __init__(self, intents: discord.Intents | None = None) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents or discord.Intents.default(),
            guild_ready_timeout=0.05,
        )
        self.app_errors: asyncio.Queue[Exception] = asyncio.Queue()
        self.reactions: asyncio.Queue[tuple[str, discord.RawReactionActionEvent]] = asyncio.Queue()
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        await self.add_cog(HarnessCog(self))
        self.tree.add_command(admin)
        self.add_view(BookmarkView())
        self.add_dynamic_items(PaperButton)
        await self.tree.sync()

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.app_errors.put_nowait(getattr(error, "original", error))

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        self.reactions.put_nowait(("add", event))

    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        self.reactions.put_nowait(("remove", event))

    async def post_paper(self, channel_id: int, *, nonce: int) -> discord.Message:
        """What the real bot's auto-poster does: an embed, a view, and a nonce."""
        channel = self.get_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        embed = discord.Embed(
            title="Scaling llamas", description="An abstract", url="https://x.org"
        )
        embed.add_field(name="Upvotes", value="42").set_footer(text=f"react with {BOOKMARK}")
        view = BookmarkView()
        view.add_item(PaperButton("2401.00001"))
        return await channel.send(
            embed=embed,
            view=view,
            nonce=nonce,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def next_item(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), timeout=5)


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[HarnessBot]:
    with point_discord_py_at(fake_discord):
        async with running_bot(HarnessBot(), fake_discord) as running:
            yield running


async def test_login_identify_sync_and_ready(fake_discord: FakeDiscord, bot: HarnessBot) -> None:
    fake = fake_discord
    assert fake.intents == bot.intents.value
    assert [r.path for r in fake.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    (sync,) = fake.requests_to("PUT", r"/applications/\d+/commands$")
    assert sync.json[0]["name"] == "harness"
    assert {o["name"] for o in sync.json[0]["options"]} >= {"ping", "summary", "export"}
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None
    assert {c.name for c in guild.text_channels} == {"general", "papers"}
    assert guild.me.guild_permissions.embed_links
    assert fake.stats["heartbeats"] >= 1


async def test_slash_command_gets_its_response(fake_discord: FakeDiscord, bot: HarnessBot) -> None:
    rec = await fake_discord.slash("harness ping", user="bob")
    assert (await rec.response())["type"] == 4
    assert rec.content == "pong bob"
    assert not rec.ephemeral
    assert [m["content"] for m in fake_discord.messages("general")] == ["pong bob"]
    (callback,) = fake_discord.requests_to("POST", r"/interactions/\d+/.+/callback")
    assert callback.query == {"with_response": "1"}
    assert "Authorization" not in callback.headers


async def test_defer_then_followup_with_a_file(fake_discord: FakeDiscord, bot: HarnessBot) -> None:
    rec = await fake_discord.slash("harness export")
    assert (await rec.response())["type"] == 5
    (followup,) = await rec.followups(1)
    assert followup["content"] == "your reading list"
    assert rec.ephemeral  # decided by the deferral
    (attachment,) = rec.attachments
    assert (attachment.filename, attachment.data) == ("bookmarks.bib", BIBTEX)
    assert fake_discord.messages("general") == []  # ephemeral: nothing in the channel


async def test_autocomplete_returns_the_bots_choices(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    choices = await fake_discord.autocomplete("harness summary", focused="paper", value="Paper 0")
    assert [c["name"] for c in choices] == PAPERS[:10]
    with pytest.raises(InteractionRejected, match="50035"):
        await fake_discord.autocomplete("harness summary", focused="paper", value="*")


async def test_slash_refuses_what_a_discord_client_would_not_send(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    with pytest.raises(AssertionError, match="was not synced"):
        await fake_discord.slash("nope")
    with pytest.raises(AssertionError, match="no option"):
        await fake_discord.slash("harness ping", query="x")
    with pytest.raises(AssertionError, match="requires option"):
        await fake_discord.slash("harness summary")
    with pytest.raises(CommandNotAvailable):
        await fake_discord.slash("admin", user="bob")
    rec = await fake_discord.slash("admin", user="alice")
    assert (await rec.answer())["content"] == "ok"


async def test_member_permissions_travel_with_the_interaction(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    await fake_discord.slash("harness manage", user="bob")
    assert isinstance(await next_item(bot.app_errors), app_commands.MissingPermissions)
    carol = fake_discord.add_member("carol", manage_guild=True)
    rec = await fake_discord.slash("harness manage", user=carol)
    assert (await rec.answer())["content"] == "managed"
    bits = int(rec.payload["member"]["permissions"])
    assert bits & Permission.MANAGE_GUILD
    assert int(rec.payload["app_permissions"]) & Permission.EMBED_LINKS


async def test_buttons_of_a_persistent_view_and_a_dynamic_item(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    posted = await bot.post_paper(fake_discord.default_channel_id, nonce=1)
    click = await fake_discord.click(posted.id, "harness:bookmark", user="bob")
    assert (await click.answer())["content"] == "bookmarked by bob"
    assert click.ephemeral
    dynamic = await fake_discord.click(posted.id, label="Open")
    assert (await dynamic.answer())["content"] == "paper 2401.00001"
    sent = click.payload["message"]
    assert sent["id"] == str(posted.id)
    assert sent["components"][0]["components"][0]["custom_id"] == "harness:bookmark"


async def test_reactions_reach_the_bot_and_the_message(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    fake = fake_discord
    posted = await bot.post_paper(fake.default_channel_id, nonce=1)
    await posted.add_reaction(BOOKMARK)  # the bot hears its own reaction, as on Discord
    kind, own = await next_item(bot.reactions)
    assert (kind, own.user_id) == ("add", fake.bot_user_id)

    await fake.react(fake.default_channel_id, posted.id, BOOKMARK, user="bob")
    kind, event = await next_item(bot.reactions)
    assert (kind, event.user_id, event.message_id, str(event.emoji)) == (
        "add",
        fake.bob,
        posted.id,
        BOOKMARK,
    )
    assert event.member is not None
    assert event.member.name == "bob"
    (shown,) = fake.messages("general")
    assert shown["reactions"][0]["count"] == 2

    await fake.unreact(fake.default_channel_id, posted.id, BOOKMARK, user="bob")
    kind, removed = await next_item(bot.reactions)
    assert (kind, removed.user_id) == ("remove", fake.bob)
    assert fake.reaction_users(posted.id) == [fake.bot_user_id]


async def test_reaction_events_need_the_reactions_intent(fake_discord: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.guild_reactions = False
    with point_discord_py_at(fake_discord):
        async with running_bot(HarnessBot(intents), fake_discord) as deaf:
            posted = await deaf.post_paper(fake_discord.default_channel_id, nonce=1)
            sent = await fake_discord.react(fake_discord.default_channel_id, posted.id)
    assert sent is None
    assert deaf.reactions.empty()


async def test_send_with_embed_view_and_enforced_nonce_posts_once(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    first = await bot.post_paper(fake_discord.default_channel_id, nonce=1234)
    again = await bot.post_paper(fake_discord.default_channel_id, nonce=1234)
    assert again.id == first.id
    (message,) = fake_discord.messages("general")
    assert message["embeds"][0]["title"] == "Scaling llamas"
    assert message["components"][0]["components"][1]["custom_id"] == "paper:2401.00001"
    posts = fake_discord.requests_to("POST", r"/channels/\d+/messages$")
    assert [p.json["enforce_nonce"] for p in posts] == [True, True]
    assert posts[0].json["allowed_mentions"] == {"parse": []}


async def test_who_a_message_pings_follows_allowed_mentions_roles_and_permissions(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    fake = fake_discord
    loud = fake.add_role("loud", mentionable=True)
    quiet = fake.add_role("quiet", mentionable=False)
    alice = fake.user("alice")
    await fake.settle()
    channel = bot.get_channel(fake.default_channel_id)
    assert isinstance(channel, discord.TextChannel)
    text = f"@everyone @here <@&{loud}> <@&{quiet}> <@!{alice}>"

    # No allowed_mentions: everything is parsed, but a role pings only if mentionable and
    # @everyone only with Mention Everyone, which the bot lacks.
    sent = await channel.send(text)
    pings = fake.pings(sent.id)
    assert (pings.everyone, pings.users, pings.roles) == (False, (alice,), (loud,))
    assert [r.id for r in sent.role_mentions] == [loud]  # what discord.py reads back
    # Embeds never ping; a role listed but not in the content pings nobody.
    embedded = await channel.send(
        embed=discord.Embed(description=text),
        allowed_mentions=discord.AllowedMentions(roles=[discord.Object(loud)]),
    )
    assert not fake.pings(embedded.id).anything

    fake.set_overwrite(channel.id, user=fake.bot_user_id, allow=Permission.MENTION_EVERYONE)
    await fake.settle()
    everything = fake.pings((await channel.send(text)).id)
    assert (everything.everyone, everything.roles) == (True, (loud, quiet))
    # Limited to one role: exactly that one, never @everyone or a user.
    only = discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(quiet)], replied_user=False
    )
    limited = fake.pings((await channel.send(text, allowed_mentions=only)).id)
    assert (limited.everyone, limited.users, limited.roles) == (False, (), (quiet,))
    assert not fake.pings(
        (await channel.send(text, allowed_mentions=discord.AllowedMentions.none())).id
    ).anything

    # Parsing a kind and listing its ids at once is refused, as Discord does.
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
    body = {"content": text, "allowed_mentions": {"parse": ["roles"], "roles": [str(loud)]}}
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.request(route, json=body)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    assert "mutually exclusive" in str(refused.value)


async def test_oversized_embed_is_refused_with_50035(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    channel = bot.get_channel(fake_discord.default_channel_id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send(embed=discord.Embed(title="x" * 257))
    assert (refused.value.status, refused.value.code) == (400, 50035)
    assert "In embeds.0.title: Must be 256 or fewer in length." in str(refused.value)
    assert fake_discord.messages("general") == []


async def test_without_embed_links_embeds_are_refused_or_dropped(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    channel_id = fake_discord.add_channel("no-embeds", deny_bot=Permission.EMBED_LINKS)
    await fake_discord.settle()  # the bot has parsed CHANNEL_CREATE
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    assert not channel.permissions_for(channel.guild.me).embed_links  # the bot can know
    with pytest.raises(discord.Forbidden) as refused:
        await channel.send(embed=discord.Embed(title="hello"))
    assert refused.value.code == 50013
    await channel.send("text survives", embed=discord.Embed(title="dropped"))
    (message,) = fake_discord.messages(channel_id)
    assert (message["content"], message["embeds"]) == ("text survives", [])


async def test_an_answer_after_the_window_is_unknown_interaction(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    fake_discord.ack_window = 0.0  # any answer is now too late
    rec = await fake_discord.slash("harness ping")
    error = await next_item(bot.app_errors)
    assert isinstance(error, discord.NotFound)
    assert error.code == 10062
    with pytest.raises(InteractionRejected, match="10062"):
        await rec.response()


async def test_a_second_initial_response_is_already_acknowledged(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    rec = await fake_discord.slash("harness twice")
    error = await next_item(bot.app_errors)
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (400, 40060)
    assert rec.content == "first"


async def test_a_429_is_waited_out_and_retried(fake_discord: FakeDiscord, bot: HarnessBot) -> None:
    fake_discord.fail("POST", r"/channels/\d+/messages$", 429, retry_after=0.05)
    await bot.post_paper(fake_discord.default_channel_id, nonce=1)
    posts = fake_discord.requests_to("POST", r"/channels/\d+/messages$")
    assert [p.status for p in posts] == [429, 200]
    assert len(fake_discord.messages("general")) == 1


async def test_a_dropped_connection_is_resumed_without_losing_events(
    fake_discord: FakeDiscord, bot: HarnessBot
) -> None:
    await fake_discord.drop_connection()
    rec = await fake_discord.slash("harness ping")  # dispatched while the bot is away
    assert (await rec.answer())["content"] == "pong alice"
    assert fake_discord.stats["resumes"] == 1
    assert fake_discord.stats["identifies"] == 1


async def test_a_reset_token_is_refused_and_faults_pair_codes_with_their_status(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    url = f"{fake.api_base}/users/@me"
    old = fake.token
    new = fake.reset_token()
    assert new != old
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bot {old}"}) as response:
            assert response.status == 401
            assert await response.json() == {"message": "401: Unauthorized", "code": 0}
        async with http.get(url, headers={"Authorization": f"Bot {new}"}) as response:
            assert response.status == 200
        fake.fail("GET", r"/users/@me$", 403, code=40333)  # any code Discord ties to no status
        async with http.get(url, headers={"Authorization": f"Bot {new}"}) as response:
            assert (response.status, (await response.json())["code"]) == (403, 40333)
    with pytest.raises(AssertionError, match="code 10003 with 404, never with 403"):
        fake.fail("POST", r"/messages$", 403, code=10003)
    with pytest.raises(AssertionError, match="not an error status"):
        fake.fail("POST", r"/messages$", 200)
    fake.errors.clear()


class ShardClient(discord.AutoShardedClient):
    """One process of a sharded bot: ``shard`` of ``count``, recording the messages it sees."""

    def __init__(self, shard: int, count: int) -> None:
        super().__init__(
            intents=discord.Intents.default(),
            shard_count=count,
            shard_ids=[shard],
            guild_ready_timeout=0.05,
        )
        self.seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.put_nowait(message)


async def test_each_shard_gets_its_own_guilds_and_their_events(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    guilds = {shard: fake.add_guild(f"shard-{shard}", shard=(shard, 2)) for shard in (0, 1)}
    # The default guild is on whichever shard its id says.
    guilds_of = {
        shard: {g for g in fake.world.guilds if (g >> 22) % 2 == shard} for shard in (0, 1)
    }
    assert guilds[0] in guilds_of[0] and guilds[1] in guilds_of[1]
    with point_discord_py_at(fake):
        async with (
            running_bot(ShardClient(0, 2), fake) as zero,
            running_bot(ShardClient(1, 2), fake) as one,
        ):
            assert [identify["shard"] for identify in fake.gateway.identifies] == [[0, 2], [1, 2]]
            assert {g.id for g in zero.guilds} == guilds_of[0]
            assert {g.id for g in one.guilds} == guilds_of[1]
            assert {g.shard_id for g in one.guilds} == {1}

            channel = fake.world.guilds[guilds[1]].channel_ids[0]
            await fake.post_message(channel, "hello shard one", user="bob")
            assert (await next_item(one.seen)).channel.id == channel
            await fake.settle()
            assert zero.seen.empty()  # not its guild

            # An event of no guild (a DM's typing, say) goes to shard 0 only.
            sessions = {tuple(s.shard or ()): s for s in fake.gateway.live_sessions}
            before = {key: session.seq for key, session in sessions.items()}
            typing = {"channel_id": "1", "user_id": str(fake.bob), "timestamp": 0}
            assert fake.gateway.dispatch("TYPING_START", typing) == 1
            assert sessions[(0, 2)].seq == before[(0, 2)] + 1
            assert sessions[(1, 2)].seq == before[(1, 2)]

            fake.recommended_shards = 3
            shards, _url, _limits = await zero.http.get_bot_gateway()
            assert shards == 3
