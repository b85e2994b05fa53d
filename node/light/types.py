"""What a light client verifies: a header, the commit that decided it, and the validator
set that signed it (CometBFT's LightBlock = SignedHeader + ValidatorSet)."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import msgpack

from consensus.types import Commit, ValidatorSet
from state.block import Header

# CometBFT's default trust level: more than 1/3 of the trusted set's power must have
# signed a header before the client skips to it (at least one honest signer).
DEFAULT_TRUST_LEVEL = Fraction(1, 3)


@dataclass(frozen=True)
class LightBlock:
    header: Header
    commit: Commit
    validators: ValidatorSet      # the set of header.height (header.validators_hash)

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def time_ms(self) -> int:
        return self.header.time_ms

    def id(self) -> bytes:
        return self.header.id()

    def encode(self) -> bytes:
        return msgpack.packb([self.header.encode(), self.commit.encode(), self.validators.encode()],
                             use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> "LightBlock":
        """Raises ValueError on anything malformed."""
        try:
            f = msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as e:  # noqa: BLE001 -- any msgpack failure is malformed input
            raise ValueError(f"light block is not msgpack ({type(e).__name__})") from None
        if type(f) is not list or len(f) != 3 or not all(type(x) is bytes for x in f):
            raise ValueError("light block must be [header, commit, validators] bytes")
        return cls(Header.decode(f[0]), Commit.decode(f[1]), ValidatorSet.decode(f[2]))


def check_trust_level(level: Fraction) -> Fraction:
    """CometBFT's rule: a trust level must lie in [1/3, 1]."""
    if not Fraction(1, 3) <= level <= 1:
        raise ValueError(f"trust level must be within [1/3, 1], got {level}")
    return level
