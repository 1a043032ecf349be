"""`infopole forget AUTHOR`: remove one person's data from the store (posts, incident lists, alerts).

AUTHOR is what an operator has in hand: the pseudonym the system shows (24 hex digits), the network's
account as the collectors key it ("vk:12345", "ok:user:5", "tg:777"), or a profile link
("https://vk.com/id12345", "ok.ru/profile/5"). Network accounts become pseudonyms with the deployment's
key, exactly as the collectors made them, so the raw id is never stored or printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from index.pseudonym import pseudonymise
from index.store import ForgetsAuthors, Store

#: A pseudonym as index.pseudonym makes it.
_PSEUDONYM = re.compile(r"[0-9a-f]{24}")
#: Profile links: vk.com/id123, ok.ru/profile/123; the network's account key follows.
_VK_LINK = re.compile(r"^(?:https?://)?(?:m\.)?vk\.com/id(\d+)/?$", re.IGNORECASE)
_OK_LINK = re.compile(r"^(?:https?://)?(?:m\.)?ok\.ru/profile/(\d+)/?$", re.IGNORECASE)
#: "network:account" as the collectors pseudonymise it.
_ACCOUNT = re.compile(r"^(vk|ok|tg|web|demo):\S.*$")


class ForgetError(ValueError):
    """AUTHOR cannot be understood or the store cannot forget (message in Russian)."""


@dataclass(frozen=True)
class ForgetResult:
    """What a forgetting removed."""

    author_id: str
    posts: int
    sources: dict[str, int]


def author_pseudonym(author: str, key: bytes) -> str:
    """Return the stored author id for AUTHOR (pseudonym, "network:account" or profile link).

    Raises ForgetError with a Russian message when AUTHOR is in none of these forms.
    """
    author = author.strip()
    if _PSEUDONYM.fullmatch(author.lower()):
        return author.lower()
    if match := _VK_LINK.match(author):
        return pseudonymise(f"vk:{match.group(1)}", key)
    if match := _OK_LINK.match(author):
        return pseudonymise(f"ok:user:{match.group(1)}", key)
    if _ACCOUNT.match(author):
        return pseudonymise(author, key)
    raise ForgetError(
        f"не понимаю автора «{author[:100]}»: укажите псевдоним из интерфейса (24 шестнадцатеричных знака), "
        "учётную запись вида vk:12345, ok:user:5, tg:777 или ссылку на профиль (vk.com/id12345)"
    )


def forget(store: Store, author: str, key: bytes, now: datetime) -> ForgetResult:
    """Remove every post of AUTHOR and its traces in incidents and alerts; return what went.

    Raises ForgetError when AUTHOR is not understood or the backend cannot forget.
    """
    author_id = author_pseudonym(author, key)
    if not isinstance(store, ForgetsAuthors):
        raise ForgetError(f"хранилище {type(store).__name__} пока не умеет удалять данные автора")
    posts = store.forget_author(author_id, now)
    sources: dict[str, int] = {}
    for post in posts:
        sources[post.source] = sources.get(post.source, 0) + 1
    return ForgetResult(author_id=author_id, posts=len(posts), sources=dict(sorted(sources.items())))
