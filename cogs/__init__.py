"""discord.py extensions: thin adapters from interactions to one service call and a rendered reply.

`bot/` never imports this package; `bot.app` loads the extensions by name.
"""
