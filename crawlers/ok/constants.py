"""OK REST API endpoints, page sizes and error codes (apiok.ru/dev/methods, apiok.ru/dev/errors)."""

from __future__ import annotations

#: The documented endpoint: {api_server}fb.do?method=... (apiok.ru/dev/methods).
API_URL = "https://api.ok.ru/fb.do"
#: Topics asked per mediatopic.getTopics page.
TOPICS_PAGE_COUNT = 50
#: Comments asked per discussions.getComments page.
COMMENTS_PAGE_COUNT = 100
#: Pages of one group's feed read in one run at most.
MAX_TOPIC_PAGES = 20
#: Comment pages of one topic read in one run at most.
MAX_COMMENT_PAGES = 20
#: discussionType of a group topic (discussions.getComments).
DISCUSSION_TYPE = "GROUP_TOPIC"
#: Group fields asked of group.getInfo for the official pages' health check.
GROUP_FIELDS = "uid,name,description,members_count,shortname,phone,homepage_url"
#: Time zone of the "date" strings of comments ("yyyy-MM-dd HH:mm:ss", Moscow time) when no date_ms.
COMMENT_DATE_TZ = "Europe/Moscow"

# Error codes (apiok.ru/dev/errors).
ERROR_UNKNOWN = 1
ERROR_SERVICE = 2
ERROR_METHOD = 3
ERROR_REQUEST = 4
ERROR_ACTION_BLOCKED = 7
ERROR_FLOOD_BLOCKED = 8
ERROR_IP_BLOCKED = 9
ERROR_PERMISSION_DENIED = 10
ERROR_LIMIT_REACHED = 11
ERROR_PARAM = 100
ERROR_PARAM_API_KEY = 101
ERROR_PARAM_SESSION_EXPIRED = 102
ERROR_PARAM_SESSION_KEY = 103
ERROR_PARAM_SIGNATURE = 104
ERROR_PARAM_RESIGNATURE = 105
ERROR_NOT_FOUND = 300
ERROR_SYSTEM = 9999

#: Retrying later may help.
TRANSIENT_CODES = frozenset(
    {ERROR_UNKNOWN, ERROR_SERVICE, ERROR_FLOOD_BLOCKED, ERROR_IP_BLOCKED, ERROR_LIMIT_REACHED, ERROR_SYSTEM}
)
#: The application key, session or signature is wrong: pause and alert the analyst.
CREDENTIALS_CODES = frozenset(
    {
        ERROR_PARAM_API_KEY,
        ERROR_PARAM_SESSION_EXPIRED,
        ERROR_PARAM_SESSION_KEY,
        ERROR_PARAM_SIGNATURE,
        ERROR_PARAM_RESIGNATURE,
    }
)
#: Suggested wait before the queue retries a run that met a transient code (s).
RETRY_AFTER_S = {ERROR_FLOOD_BLOCKED: 300.0, ERROR_LIMIT_REACHED: 3600.0, ERROR_IP_BLOCKED: 3600.0}
#: Attempts of one call on network errors and HTTP 5xx, and the first back-off (s, doubled each time).
CALL_ATTEMPTS = 3
BACKOFF_S = 1.0
