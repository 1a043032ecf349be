"""Telegram platform limits and collector defaults, each with where the number comes from."""

from __future__ import annotations

#: Source and mapper name, and the id prefix of every Telegram post (`tg:{chat_id}:{msg_id}`).
SOURCE_NAME = "tg"

#: Messages per GetHistory/GetReplies request: the MTProto maximum (Telethon's iter_messages chunk).
MESSAGES_PER_REQUEST = 100

#: Messages handed to the ingest path per Batch (one request's worth keeps batches aligned with calls).
BATCH_SIZE = 100

#: Flood waits up to this long are slept in place; longer ones reschedule through the queue (s).
#: Telethon's own default `flood_sleep_threshold` is 60 s; we surface every wait and decide ourselves.
FLOOD_SLEEP_MAX_S = 60.0

#: Flood waits slept in a row for one call before giving up and rescheduling.
FLOOD_RETRIES = 3

#: On the first poll of a chat only this much history is fetched (days).
BACKFILL_DAYS = 3

#: Most messages read from one chat per poll; the rest comes next poll from the saved cursor.
#: GetHistory allows about 10 requests per 30 s ("seems to be around 30 seconds per 10 requests",
#: Telethon's iter_messages docstring), so 1,000 messages = 10 requests per chat per poll.
MAX_MESSAGES_PER_CHAT = 1000

#: Discussion-copy → channel-post links remembered per discussion chat (most recent kept).
MAX_REMEMBERED_COPIES = 2000

#: A chat that failed permanently (private, banned, unknown username) is retried after this long (h).
PERMANENT_RETRY_HOURS = 24.0

#: The dramatiq queue that runs Telegram collection: one worker process, one thread, per session.
QUEUE_NAME = "infopole-telegram"

#: Key prefix of the dramatiq ConcurrentRateLimiter(limit=1) that guards one session across hosts.
SESSION_MUTEX_PREFIX = "tg:session:"

#: Public web address of channels and public chats.
TME_URL = "https://t.me"
