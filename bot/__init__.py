"""papers-bot: Hugging Face Daily Papers for Discord research communities.

Importing this package reads no environment, configures no logging and opens nothing.
"""

__version__ = "0.1.0"
