"""Reappearance: adversarial re-uploads, hash matching, account strikes.

* :class:`Reupload` (``reupload``): adversaries re-upload removed material, possibly from a new
  account and possibly altered so that hash matching misses it.
* :class:`HashMatching` (``hash_matching``): removed content enters a database of hashes (after a
  sync delay); uploads of known content are blocked with probability ``recall`` (``recall_altered``
  for altered copies). The database is a :class:`HashDatabase`, which a multi-platform setup can
  share between the platforms' policies (pass ``database=``).
* :class:`AccountStrikes` (``account_strikes``): an account whose posts were removed ``strikes``
  times is suspended; its further uploads are blocked, and an adversary comes back with a new
  account after ``return_delay`` to upload the blocked content, then goes on from that account.

A *new account* is modelled as a user of the graph drawn uniformly at random from the policy's
stream: it has that user's followers, i.e. the adversary rebuilds an audience of typical size.
Accounts are user ids: a new account that happens to be a user with posts of their own shares
their strike count.

Randomness: every coin and delay is a counter-based uniform of the policy's own stream keyed by
content id and copy number (:func:`~spreadsim.policies.base.post_uniform`) or by account id, so runs
that differ in another lever see the same draws for the same content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spreadsim.engine.records import Attempt, Post
from spreadsim.engine.simulation import Simulation
from spreadsim.policies.base import Policy, post_uniform
from spreadsim.rng import uniform
from spreadsim.schema.model import LEGAL
from spreadsim.schema.policies import AccountStrikesParams, HashMatchingParams, ReuploadParams


def pick_account(sim: Simulation, u: float, exclude: Iterable[int] = ()) -> int | None:
    """A user drawn at quantile ``u`` (uniform over the graph's users), skipping ``exclude`` by
    probing the next ids in turn; ``None`` if every user is excluded."""
    n = sim.graph.n
    ex = set(exclude)
    start = min(int(u * n), n - 1)
    for i in range(n):
        v = (start + i) % n
        if v not in ex:
            return v
    return None


# --------------------------------------------------------------------------- re-uploads


class Reupload(Policy):
    """Adversaries re-upload their removed posts.

    When an adversarial post (``Post.adversarial``) is removed, with probability ``reupload_prob``
    its uploader uploads the same content again ``delay`` later, up to ``max_reuploads`` times per
    content. The copy comes from a new account with probability ``new_account_prob`` (a random
    user, see the module docstring), else from the same account (or the account that replaced it
    after a suspension), and is altered with probability ``altered_prob``. With ``retry_blocked``
    a blocked re-upload (hash matching, suspension) is answered like a removal: another attempt
    under the same rules (content blocked by a suspension is also brought back by
    ``account_strikes``, so the two add up).

    Parameters
    ----------
    cfg : Mapping
        The section :class:`~spreadsim.schema.policies.ReuploadParams` declares:
        ``reupload_prob``, ``delay`` (removal to re-upload), ``max_reuploads``,
        ``new_account_prob``, ``altered_prob``, ``retry_blocked``.
    field : str
        Dotted path of the section, for error messages.

    Notes
    -----
    Summary: ``attempts`` (re-uploads tried), ``blocked``, ``uploaded``, ``altered`` (altered
    copies uploaded), ``new_accounts``, ``live`` (this policy's copies still up at the horizon),
    ``copies_reach`` (reach of every illegal copy, copy > 0, from any source) and
    ``reuploads_reach`` (reach of this policy's copies).

    Draws for the removal of copy ``k`` of content ``c`` (:func:`post_uniform` of that copy):
    counter 0 re-upload coin, 1 delay, 2 new-account coin, 3 altered coin, 4 the new account.
    """

    name = "reupload"
    params_class = ReuploadParams
    params: ReuploadParams

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self._count: dict[int, int] = {}  # content id -> re-uploads planned
        self.posts: list[Post] = []
        self.attempts = self.blocked = self.new_accounts = 0

    def on_removal(self, post: Post) -> None:
        if post.adversarial:
            self._plan(post)

    def _plan(self, src: Post | Attempt) -> None:
        """Decide whether and how the content of the removed or blocked ``src`` comes back."""
        sim, p = self.sim, self.params
        cid = src.content_id
        n = self._count.get(cid, 0)
        if n >= p.max_reuploads or post_uniform(self.key, src, 0) >= p.reupload_prob:
            return
        self._count[cid] = n + 1
        at = sim.env.now + p.delay.sample(post_uniform(self.key, src, 1))
        if at >= sim.config.scenario.horizon_h:
            return
        new = post_uniform(self.key, src, 2) < p.new_account_prob
        altered = post_uniform(self.key, src, 3) < p.altered_prob
        account = pick_account(sim, post_uniform(self.key, src, 4)) if new else None
        category, uploader = src.category, src.uploader

        def go(_e: Any) -> None:
            self._upload(category, uploader, account, cid, altered)

        sim.env.timeout(at - sim.env.now).callbacks.append(go)

    def _upload(self, category: str, uploader: int, account: int | None, cid: int,
                altered: bool) -> None:
        sim = self.sim
        who = sim.account(uploader) if account is None else account
        self.attempts += 1
        self.new_accounts += account is not None
        post = sim.upload(category, who, content_id=cid, altered=altered, adversarial=True)
        if post is not None:
            self.posts.append(post)
            return
        self.blocked += 1
        if self.params.retry_blocked:
            self._plan(sim.blocked[-1])

    def summary(self) -> dict[str, float]:
        sim = self.sim
        copies = [p for p in sim.posts if p.copy > 0 and p.category != LEGAL]
        return {
            "attempts": self.attempts,
            "blocked": self.blocked,
            "uploaded": len(self.posts),
            "altered": sum(p.altered for p in self.posts),
            "new_accounts": self.new_accounts,
            "live": sum(not sim.is_removed(p) for p in self.posts),
            "copies_reach": sum(sim.reach(p) for p in copies),
            "reuploads_reach": sum(sim.reach(p) for p in self.posts),
        }


# --------------------------------------------------------------------------- hash matching


class HashDatabase:
    """Content ids known to a hash-matching filter, each from the time it becomes available.

    One platform's policy owns one by default; several platforms can share one instance, with
    each entry's ``time`` set by the platform that added it plus the sync delay to the others.

    Examples
    --------
    >>> db = HashDatabase()
    >>> db.add(7, 2.0)
    >>> db.known(7, 1.0), db.known(7, 2.0), db.known(8, 5.0)
    (False, True, False)
    """

    def __init__(self) -> None:
        self._since: dict[int, float] = {}

    def add(self, content_id: int, time: float) -> None:
        """Content ``content_id`` is known from ``time`` on (the earliest time given wins)."""
        t = self._since.get(content_id)
        if t is None or time < t:
            self._since[content_id] = time

    def known(self, content_id: int, now: float) -> bool:
        """Whether ``content_id`` is in the database at time ``now``."""
        t = self._since.get(content_id)
        return t is not None and t <= now

    def __len__(self) -> int:
        return len(self._since)


class HashMatching(Policy):
    """Block uploads of content that was removed before (hash matching).

    On every removal the content id enters the database ``sync_delay`` later. An upload attempt of
    known content is blocked with probability ``recall`` if unaltered, ``recall_altered`` if
    altered (coin: :func:`post_uniform` of the attempt, counter 1; sync delay: of the removed
    post, counter 0).

    Parameters
    ----------
    cfg : Mapping
        The section :class:`~spreadsim.schema.policies.HashMatchingParams` declares: ``recall``,
        ``recall_altered``, ``sync_delay`` (removal to hash in the database).
    field : str
        Dotted path of the section, for error messages.
    database : HashDatabase, optional
        A database shared with other policies (platforms); a fresh one per run if omitted.

    Notes
    -----
    Summary: ``known_attempts`` (upload attempts of content in the database), ``blocked``,
    ``hashes`` (content ids in the database at the end).
    """

    name = "hash_matching"
    params_class = HashMatchingParams
    params: HashMatchingParams

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy", *,
                 database: HashDatabase | None = None) -> None:
        super().__init__(cfg, field)
        self._shared = database

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self.db = self._shared if self._shared is not None else HashDatabase()
        self.known_attempts = self.blocked = 0

    def on_removal(self, post: Post) -> None:
        now = self.sim.env.now
        self.db.add(post.content_id, now + self.params.sync_delay.sample(post_uniform(self.key, post, 0)))

    def on_upload_attempt(self, attempt: Attempt) -> bool:
        if not self.db.known(attempt.content_id, attempt.time):
            return True
        self.known_attempts += 1
        r = self.params.recall_altered if attempt.altered else self.params.recall
        if post_uniform(self.key, attempt, 1) < r:
            self.blocked += 1
            return False
        return True

    def summary(self) -> dict[str, float]:
        return {"known_attempts": self.known_attempts, "blocked": self.blocked,
                "hashes": len(self.db)}


# --------------------------------------------------------------------------- account strikes


class AccountStrikes(Policy):
    """Suspend an account after ``strikes`` removals of its posts.

    Upload attempts from a suspended account are blocked. An adversarial account (its removed
    posts were adversarial) comes back ``return_delay`` after the suspension with a new account
    (a random user, excluding suspended accounts and the campaign's accounts): it uploads the
    content blocked in the meantime from it, and the campaign's later uploads of the old account
    come from it (``Simulation.replaced``). A blocked attempt after the return is uploaded again
    from the new account at once.

    Parameters
    ----------
    cfg : Mapping
        The section :class:`~spreadsim.schema.policies.AccountStrikesParams` declares: ``strikes``,
        ``return_delay`` (suspension to the new account).
    field : str
        Dotted path of the section, for error messages.

    Notes
    -----
    Summary: ``suspensions``, ``new_accounts``, ``blocked`` (attempts from suspended accounts),
    ``returned_uploads`` (blocked content uploaded again from a new account).
    ``log`` lists ``(time, event, account, other)`` with events ``suspend`` (other: strikes),
    ``block`` (other: content id) and ``return`` (other: the new account).
    Draws for account ``a`` (``uniform(key, a, counter)``): counter 0 the return delay, 1 the new
    account.
    """

    name = "account_strikes"
    params_class = AccountStrikesParams
    params: AccountStrikesParams

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self._strikes: dict[int, int] = {}
        self.suspended: dict[int, float] = {}  # account -> suspension time
        self._waiting: dict[int, list[Attempt]] = {}  # account -> blocked before the return
        self.log: list[tuple[float, str, int, int]] = []
        self.suspensions = self.new_accounts = self.blocked = self.returned = 0

    def on_removal(self, post: Post) -> None:
        a = post.uploader
        n = self._strikes.get(a, 0) + 1
        self._strikes[a] = n
        if n != self.params.strikes:
            return
        sim = self.sim
        now = sim.env.now
        self.suspended[a] = now
        self.suspensions += 1
        self.log.append((now, "suspend", a, n))
        if not post.adversarial:
            return
        at = now + self.params.return_delay.sample(float(uniform(self.key, a, 0)))
        if at >= sim.config.scenario.horizon_h:
            return
        self._waiting[a] = []
        sim.env.timeout(at - now).callbacks.append(lambda _e: self._return(a))

    def on_upload_attempt(self, attempt: Attempt) -> bool:
        a = attempt.uploader
        if a not in self.suspended:
            return True
        self.blocked += 1
        self.log.append((attempt.time, "block", a, attempt.content_id))
        if attempt.adversarial:
            if a in self._waiting:
                self._waiting[a].append(attempt)
            elif a in self.sim.replaced:
                self.sim.env.timeout(0.0).callbacks.append(lambda _e: self._reupload(attempt))
        return False

    def _return(self, a: int) -> None:
        sim = self.sim
        exclude = {*self.suspended, *sim.replaced.values(), *(int(u) for u in sim.uploaders)}
        new = pick_account(sim, float(uniform(self.key, a, 1)), exclude)
        waiting = self._waiting.pop(a)
        if new is None:
            return
        sim.replaced[a] = new
        self.new_accounts += 1
        self.log.append((sim.env.now, "return", a, new))
        for attempt in waiting:
            self._reupload(attempt)

    def _reupload(self, attempt: Attempt) -> None:
        self.returned += 1
        self.sim.upload(attempt.category, self.sim.account(attempt.uploader),
                        content_id=attempt.content_id, altered=attempt.altered, adversarial=True)

    def summary(self) -> dict[str, float]:
        return {"suspensions": self.suspensions, "new_accounts": self.new_accounts,
                "blocked": self.blocked, "returned_uploads": self.returned}


__all__ = ["Reupload", "HashMatching", "HashDatabase", "AccountStrikes", "pick_account"]
