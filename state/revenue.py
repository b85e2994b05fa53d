"""Revenue rights: any number of holders per asset, paid through an accumulator.

Per asset (LEDGER.md, "Revenue rights"):
    rev/ + asset            -> [acc (big int bytes), vault]
An amount H for the holders raises acc by H * ACC_SCALE // 1e6 (exact: ACC_SCALE is a
multiple of 1e6) and the vault by H. That is O(1) whatever the number of holders.

Per (asset, holder):
    shr/ + asset + account  -> [shares, locked, snap (big int bytes), rem]
`locked`: shares in the holder's resting sell orders (they keep earning for it).
The holder's part since its last settlement, scaled by ACC_SCALE, is
    shares * (acc - snap) + rem
and settling pays its floor from the vault, keeps the remainder in `rem` (< ACC_SCALE,
i.e. < 1 uopen) and sets snap = acc. In LEDGER.md's terms debt = shares * snap - rem.
Keeping the remainder with the holder (instead of LEDGER.md's debt = shares*acc//SCALE,
which rounds each holder separately) is what makes the vault never owe more than it holds
when shares are split: a holder's earnings after a settlement are exactly
    floor(sum over arrivals of shares_then * H / 1,000,000)
(docs/attribution.md, "Revenue rights"), and every holder is settled before its share
count changes, so revenue belongs to whoever held the shares while it arrived.

Top holder (controls set_price): an ordered set (state/ordered_set.py) per asset of
    be3(1,000,000 - shares) + account
whose least key is the holder with the most shares, ties to the smallest address. It is
brought in step once per block, not at every share movement: a position whose share count
changes is noted (deferred in the context, with the count the set still holds for it),
and `process_flush_ranks` moves each noted holder's key once -- at the end of the block,
in the order of (asset, account), and before any read of the top holder. A maker filled
five times in a block moves once. Each move is O(log holders), never O(holders).

Assets an account ever held are listed (paged, state/asset_index.py) for the holdings query.
"""
from __future__ import annotations

from dataclasses import dataclass

from state import ordered_set
from state.accounts import checked_add, checked_sub, increase_balance
from state.asset_index import iter_list, process_list_append
from state.asset_records import ACC_SCALE, EARNINGS, EARNINGS_INDEX, decode_big, encode_big
from state.context import Context
from state.errors import Code, TxError
from state.tx import PPM, TOTAL_SHARES

RIGHTS = b"rev/"            # + asset id32 -> Rights
POSITION = b"shr/"          # + asset id32 + account20 -> Position
RANK = b"rnk/"              # + asset id32: ordered set of be3(TOTAL - shares) + account20
HOLDINGS_INDEX = b"hix/"    # paged list: assets an account ever held shares of

VAULT_FIELD = 1             # index of `vault` in the encoded Rights (supply invariant)


def rights_key(asset_id: bytes) -> bytes:
    return RIGHTS + asset_id


def position_key(asset_id: bytes, account: bytes) -> bytes:
    return POSITION + asset_id + account


def _rank_key(shares: int, account: bytes) -> bytes:
    return (TOTAL_SHARES - shares).to_bytes(3, "big") + account


@dataclass(slots=True)
class Rights:
    """An asset's accumulator (uopen per share, scaled by ACC_SCALE) and its vault."""
    acc: int = 0
    vault: int = 0

    def encode(self) -> list:
        return [encode_big(self.acc), self.vault]

    @classmethod
    def decode(cls, v: list) -> "Rights":
        return cls(decode_big(v[0]), v[1])

    def add(self, amount: int) -> None:
        """`amount` arrives for the holders (rule 3)."""
        self.acc += amount * (ACC_SCALE // PPM)
        self.vault = checked_add(self.vault, amount, "vault")


@dataclass(slots=True)
class Position:
    shares: int = 0
    locked: int = 0
    snap: int = 0
    rem: int = 0

    def encode(self) -> list:
        return [self.shares, self.locked, encode_big(self.snap), self.rem]

    @classmethod
    def decode(cls, v: list) -> "Position":
        return cls(v[0], v[1], decode_big(v[2]), v[3])

    @property
    def free(self) -> int:
        """Shares not locked in sell orders."""
        return self.shares - self.locked


def compute_accrued(pos: Position, acc: int) -> int:
    """What the holder could collect now (uopen)."""
    return (pos.shares * (acc - pos.snap) + pos.rem) // ACC_SCALE


# --- reads ----------------------------------------------------------------------------------
def get_rights(view, asset_id: bytes) -> Rights:
    v = view.get_record(rights_key(asset_id))
    return Rights() if v is None else Rights.decode(v)


def set_rights(ctx, asset_id: bytes, rights: Rights) -> None:
    ctx.put_record(rights_key(asset_id), rights.encode())


def get_position(view, asset_id: bytes, account: bytes) -> Position | None:
    v = view.get_record(position_key(asset_id, account))
    return None if v is None else Position.decode(v)


def get_shares(view, asset_id: bytes, account: bytes) -> int:
    pos = get_position(view, asset_id, account)
    return 0 if pos is None else pos.shares


def _ranked(view, asset_id: bytes):
    """`view`, with the asset's rank set brought in step first if it is a block's context."""
    if isinstance(view, Context):
        process_flush_ranks(view, asset_id)
    return view


def get_top_holder(view, asset_id: bytes) -> bytes | None:
    """The holder with the most shares; ties go to the smallest address."""
    k = ordered_set.first(_ranked(view, asset_id), RANK + asset_id)
    return None if k is None else k[3:]


def iter_holders(view, asset_id: bytes, limit: int):
    """(account, shares) of the `limit` largest holders, largest first (queries)."""
    for k in ordered_set.iter_keys(_ranked(view, asset_id), RANK + asset_id, limit):
        yield k[3:], TOTAL_SHARES - int.from_bytes(k[:3], "big")


def iter_held_assets(view, account: bytes, limit: int):
    """The first `limit` assets `account` ever held shares of, in the order it got them."""
    return iter_list(view, HOLDINGS_INDEX, account, 0, limit)


def get_accrued_shares(view, asset_id: bytes, account: bytes) -> int:
    """What `account` accrued on `asset_id` and could claim now (not counting a
    contribution's part still in its datanet's pool)."""
    pos = get_position(view, asset_id, account)
    return 0 if pos is None else compute_accrued(pos, get_rights(view, asset_id).acc)


# --- writes -------------------------------------------------------------------------------------
def process_issue_shares(ctx, asset_id: bytes, creator: bytes) -> None:
    """A new asset: all TOTAL_SHARES to its creator, nothing accrued yet."""
    _write_position(ctx, asset_id, creator, Position(TOTAL_SHARES), None)


def _write_position(ctx, asset_id: bytes, account: bytes, pos: Position, old_shares: int | None) -> None:
    """Store `pos`; if its share count changed, note the holder for the rank set's flush.
    `old_shares`: the count before (None: the position is new, so the asset joins the
    account's holdings)."""
    if old_shares is None:
        process_list_append(ctx, HOLDINGS_INDEX, account, asset_id)
        old_shares = 0
    if old_shares != pos.shares:
        ns = RANK + asset_id
        if ctx.get_deferred(ns, account) is None:     # the set holds the count before this block's moves
            ctx.put_deferred(ns, account, old_shares)
    ctx.put_record(position_key(asset_id, account), pos.encode())


def process_flush_ranks(ctx, asset_id: bytes | None = None) -> None:
    """Move the rank key of every holder noted since the last flush (of `asset_id`, or of
    every asset) from the count the set holds to its count now: assets in byte order,
    and in each the removals and insertions in key order (so runs of them share a leaf
    walk), the nodes of one asset's set read and written once."""
    spaces = [RANK + asset_id] if asset_id is not None else ctx.deferred_spaces(RANK)
    for ns in spaces:
        pending = ctx.take_deferred(ns)
        if not pending:
            continue
        aid = ns[len(RANK):]
        changes = []                   # (rank key, present): each holder's old key out, new key in
        for account in sorted(pending):
            ranked, shares = pending[account], get_shares(ctx, aid, account)
            if ranked != shares:
                if ranked:
                    changes.append((_rank_key(ranked, account), False))
                if shares:
                    changes.append((_rank_key(shares, account), True))
        changes.sort()
        nodes = ordered_set.NodeBuffer(ctx)
        ordered_set.process_apply_sorted(nodes, ns, changes)
        nodes.flush()


def process_earning(ctx, account: bytes, asset_id: bytes, amount: int) -> None:
    """Add to what `account` earned from `asset_id` (a queryable, provable record)."""
    key = EARNINGS + account + asset_id
    before = ctx.get_record(key)
    if before is None:
        process_list_append(ctx, EARNINGS_INDEX, account, asset_id)
        before = 0
    ctx.put_record(key, checked_add(before, amount, "earnings"))


def _settle(ctx, asset_id: bytes, account: bytes, pos: Position, rights: Rights) -> int:
    """Pay what `pos` accrued from the vault to the holder; returns the amount. Writes the
    balance and earnings; the caller writes `pos` and `rights`."""
    total = pos.shares * (rights.acc - pos.snap) + pos.rem
    amount, pos.rem = divmod(total, ACC_SCALE)
    pos.snap = rights.acc
    if amount:
        rights.vault = checked_sub(rights.vault, amount, "vault")
        increase_balance(ctx, account, amount)
        process_earning(ctx, account, asset_id, amount)
        ctx.emit("earn", account, asset_id, amount)
    return amount


def process_settle_holder(ctx, asset_id: bytes, account: bytes) -> int:
    """Settle `account` on `asset_id` (claim); returns what was paid."""
    pos = get_position(ctx, asset_id, account)
    if pos is None:
        return 0
    rights = get_rights(ctx, asset_id)
    amount = _settle(ctx, asset_id, account, pos, rights)
    if amount:
        set_rights(ctx, asset_id, rights)
        ctx.put_record(position_key(asset_id, account), pos.encode())
    return amount


def process_open_position(ctx, asset_id: bytes, account: bytes,
                          rights: Rights | None = None) -> tuple[Position, int | None]:
    """Settle `account` on `asset_id`; return its position and its share count before
    (None: it never held the asset). The caller changes the position's shares in memory
    and writes it with `process_close_position`; in between nothing may arrive for the
    asset's holders (a transfer, or the fills of one placement, which a taker's position
    goes through once however many makers it meets). `rights`: the asset's, as the
    caller read them (and this writes them back if a settlement changes them), so the
    settlements of one placement read them once."""
    pos = get_position(ctx, asset_id, account)
    before = None if pos is None else pos.shares
    if pos is None:
        pos = Position()
    if rights is None:
        rights = get_rights(ctx, asset_id)
    if _settle(ctx, asset_id, account, pos, rights):
        set_rights(ctx, asset_id, rights)
    return pos, before


def process_close_position(ctx, asset_id: bytes, account: bytes, pos: Position, before: int | None) -> None:
    _write_position(ctx, asset_id, account, pos, before)


def verify_can_move(pos: Position | None, shares: int, from_locked: bool) -> None:
    have = 0 if pos is None else (pos.locked if from_locked else pos.free)
    if have < shares:
        what = "locked in orders" if from_locked else "free of orders"
        raise TxError(Code.INSUFFICIENT_SHARES, f"sender holds {have} shares {what}, not {shares}")


def process_move_shares(ctx, asset_id: bytes, sender: bytes, to: bytes, shares: int,
                        from_locked: bool = False) -> None:
    """Move `shares` from `sender` to `to`, both settled first. `from_locked`: the shares
    come out of the sender's sell orders (a fill) rather than its free shares."""
    if sender == to:
        raise TxError(Code.SELF_REFERENCE, "shares move to their own holder")
    verify_can_move(get_position(ctx, asset_id, sender), shares, from_locked)
    src, src_before = process_open_position(ctx, asset_id, sender)
    dst, dst_before = process_open_position(ctx, asset_id, to)
    src.shares -= shares
    if from_locked:
        src.locked -= shares
    dst.shares += shares
    process_close_position(ctx, asset_id, sender, src, src_before)
    process_close_position(ctx, asset_id, to, dst, dst_before)


def process_lock_shares(ctx, asset_id: bytes, account: bytes, delta: int) -> None:
    """Lock (delta > 0) or unlock (delta < 0) shares for sell orders. Locked shares still
    earn for their holder, so no settlement is needed."""
    pos = get_position(ctx, asset_id, account)
    if pos is None or (delta > 0 and pos.free < delta):
        have = 0 if pos is None else pos.free
        raise TxError(Code.INSUFFICIENT_SHARES, f"sender holds {have} shares free of orders, not {delta}")
    pos.locked += delta
    ctx.put_record(position_key(asset_id, account), pos.encode())
