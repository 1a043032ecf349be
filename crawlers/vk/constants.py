"""VK API limits and codes, each with where it comes from (dev.vk.com, VKCOM/vk-api-schema errors.json)."""

from __future__ import annotations

#: API version passed with every call (vk_api defaults to 5.92 otherwise).
API_VERSION = "5.199"
#: Host vk_api 11.10 posts to (hard-coded in VkApi.method; tests mount a loopback adapter on it).
API_HOST = "https://api.vk.ru"
#: Calls one `execute` may contain (dev.vk.com/ru/method/execute).
EXECUTE_MAX_CALLS = 25
#: Largest `count` of wall.get (dev.vk.com/ru/method/wall.get).
WALL_GET_MAX_COUNT = 100
#: Largest `count` of wall.getComments (dev.vk.com/ru/method/wall.getComments).
COMMENTS_MAX_COUNT = 100
#: Largest `thread_items_count` of wall.getComments.
THREAD_ITEMS_MAX_COUNT = 10
#: Largest `count` of newsfeed.search (dev.vk.com/ru/method/newsfeed.search).
NEWSFEED_SEARCH_MAX_COUNT = 200
#: newsfeed.search returns at most this many results per query, "even with offset".
NEWSFEED_SEARCH_RESULT_CAP = 1000
#: A search window is not split below this length (s); a window still over the cap loses results.
SEARCH_MIN_WINDOW_S = 60
#: group_ids one groups.getById call accepts (dev.vk.com/ru/method/groups.getById).
GROUPS_GET_BY_ID_MAX = 500
#: Requests per second a user token may make (dev.vk.com/ru/api/api-requests).
USER_TOKEN_RPS = 3
#: Calls per user token per day of wall.get and newsfeed.search (VK's per-method daily limits; beyond
#: them VK answers 29). Not checkable offline: configurable (VK__WALL_DAILY_QUOTA, VK__SEARCH_DAILY_QUOTA).
WALL_GET_DAILY_QUOTA = 5000
NEWSFEED_SEARCH_DAILY_QUOTA = 1000
#: Share of a daily quota the collector plans to use (the rest absorbs re-reads and manual runs).
QUOTA_SHARE = 0.8
#: Comments read per post in one run at most (the rest comes next run).
MAX_COMMENTS_PER_POST = 2000
#: Pages of one wall read in one run at most (beyond the backfill window nothing is read anyway).
MAX_WALL_PAGES = 20

# Error codes (vk-api-schema errors.json).
ERROR_AUTH = 5  # User authorization failed (token expired or revoked)
ERROR_TOO_MANY_RPS = 6
ERROR_FLOOD = 9  # Flood control
ERROR_INTERNAL = 10  # Internal server error
ERROR_CAPTCHA = 14
ERROR_ACCESS = 15  # Access denied
ERROR_VALIDATION = 17  # Validation required
ERROR_DELETED = 18  # User was deleted or banned
ERROR_PRIVATE_PROFILE = 30  # This profile is private
ERROR_RATE_LIMIT = 29  # Rate limit reached (per-method daily quota)

#: Retrying later may help.
TRANSIENT_CODES = frozenset({ERROR_TOO_MANY_RPS, ERROR_FLOOD, ERROR_INTERNAL, ERROR_RATE_LIMIT})
#: The token needs a human: pause it and alert the analyst.
CREDENTIALS_CODES = frozenset({ERROR_AUTH, ERROR_CAPTCHA, ERROR_VALIDATION})
#: Retried in place (short back-off) before giving the run up.
RETRY_IN_PLACE_CODES = frozenset({ERROR_TOO_MANY_RPS, ERROR_INTERNAL})
#: Suggested wait before the queue retries a run that met a transient code (s).
RETRY_AFTER_S = {ERROR_TOO_MANY_RPS: 2.0, ERROR_INTERNAL: 30.0, ERROR_FLOOD: 120.0, ERROR_RATE_LIMIT: 3600.0}
#: In-place attempts of one call for codes 6 and 10, and the first back-off (s, doubled each time).
CALL_ATTEMPTS = 4
BACKOFF_S = 0.5
