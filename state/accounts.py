"""Accounts: a balance in uopen and a nonce (the number of txs the account has sent).

One state key per account, `acc/<address>` -> [balance, nonce], so the common path (a
fee plus a transfer) touches two keys. All arithmetic is checked: a result outside
0 <= x < 2**63 raises TxError instead of wrapping.
"""
from __future__ import annotations

from state.context import Context
from state.errors import Code, TxError
from state.keys import account_key
from state.tx import MAX_AMOUNT


def checked_add(a: int, b: int, what: str = "amount") -> int:
    s = a + b
    if s > MAX_AMOUNT:
        raise TxError(Code.AMOUNT_OVERFLOW, f"{what} would exceed 2**63-1")
    return s


def checked_sub(a: int, b: int, what: str = "balance") -> int:
    if b > a:
        raise TxError(Code.INSUFFICIENT_FUNDS, f"{what} {a} is less than {b}")
    return a - b


def get_account(ctx: Context, address: bytes) -> tuple[int, int]:
    """(balance, nonce); an account never seen has (0, 0)."""
    rec = ctx.get_record(account_key(address))
    return (0, 0) if rec is None else (rec[0], rec[1])


def get_nonce(ctx: Context, address: bytes) -> int:
    return get_account(ctx, address)[1]


def set_account(ctx: Context, address: bytes, balance: int, nonce: int) -> None:
    ctx.put_record(account_key(address), [balance, nonce])


def increase_balance(ctx: Context, address: bytes, amount: int) -> None:
    if amount == 0:
        return
    balance, nonce = get_account(ctx, address)
    set_account(ctx, address, checked_add(balance, amount, "balance"), nonce)


def decrease_balance(ctx: Context, address: bytes, amount: int) -> None:
    """Debit `amount`; raises TxError(INSUFFICIENT_FUNDS) if the balance is short."""
    if amount == 0:
        return
    balance, nonce = get_account(ctx, address)
    set_account(ctx, address, checked_sub(balance, amount, "balance"), nonce)


def move(ctx: Context, sender: bytes, recipient: bytes, amount: int) -> None:
    decrease_balance(ctx, sender, amount)
    increase_balance(ctx, recipient, amount)


def process_transfer(ctx: Context, tx) -> None:
    """transfer(to, amount): move OPEN from the sender to `to`."""
    # Verify the sender can pay (checked in decrease_balance) and the recipient's balance
    # stays in range (checked in increase_balance)
    move(ctx, tx.sender, tx.args.to, tx.args.amount)
