"""Telegram collector (Telethon, StringSession): public channels, chats and the comments under posts."""
