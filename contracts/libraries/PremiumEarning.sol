// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title PremiumEarning
/// @notice The pool's aggregate earning schedule (docs/protocol.md §12.2): every amount booked with {add} is earned
/// linearly, per second, from the moment it is booked until its end rounded UP to a whole UTC day, and exactly, to
/// the base unit, by then.
///
/// Representation: `rate` is the sum of the per-second rates of everything still earning, in units of 1e-18 token
/// per second; bucket `d` holds the rate that stops at `d * 1 days` and the `tail` of the amounts ending then (what
/// the rounded-down rates leave unearned: `amount * 1e18 - rate * span < span`). {accrued} walks day boundaries from
/// the last accrual, adds `rate * elapsed` and, at each boundary, the bucket's tail, and drops its rate; whole
/// tokens are earned, the fraction stays in `remainder`. So each booked amount is earned exactly by its rounded end,
/// never earlier than linear: a liquidity provider can never withdraw premium that has not been earned, and the
/// rounding dust ends up earned (in the pool) instead of stuck.
///
/// Cost: a bitmap marks the days that have a bucket, so catching up reads one bitmap word per 256 days elapsed and one
/// bucket per day on which something stops earning (the loop stops when the rate is zero).
library PremiumEarning {
    using SafeCast for uint256;

    /// @notice Granularity of the end times.
    uint256 internal constant DAY = 1 days;
    /// @notice Fixed-point scale of the rates.
    uint256 internal constant SCALE = 1e18;

    /// @notice The aggregate rate, the earned fraction carried over and the time of the last accrual.
    struct Schedule {
        uint192 rate;
        uint64 remainder;
        uint64 lastAccrual;
    }

    /// @notice What stops earning at the end of one day.
    struct Bucket {
        uint192 rateDrop;
        uint64 tail;
    }

    /// @notice The day buckets and the bitmap of the days that have one (bit `d % 256` of word `d / 256`).
    struct Buckets {
        mapping(uint256 day => Bucket) byDay;
        mapping(uint256 word => uint256 bits) dayBits;
    }

    /// @notice The schedule after accruing up to `block.timestamp`, and the whole tokens earned since `s.lastAccrual`.
    /// @param s The schedule as stored.
    /// @param buckets The day buckets.
    /// @return next The schedule to store.
    /// @return earned Tokens earned.
    function accrued(Schedule memory s, Buckets storage buckets)
        internal
        view
        returns (Schedule memory next, uint256 earned)
    {
        uint256 rate = s.rate;
        uint256 scaled = s.remainder;
        uint256 from = s.lastAccrual;
        uint256 to = block.timestamp;
        // rate == 0 means nothing is booked (every booked amount has a non-zero rate until its bucket): no bucket
        // left to cross. Cannot overflow: rates sum to < 2^172 (amounts < 2^112 times 1e18 < 2^60), times at most
        // one day, plus tails < 2^64.
        while (rate != 0 && from < to) {
            uint256 day = _nextDay(buckets, from / DAY + 1, to / DAY);
            if (day == type(uint256).max) {
                scaled += rate * (to - from);
                break;
            }
            uint256 boundary = day * DAY;
            scaled += rate * (boundary - from);
            Bucket memory b = buckets.byDay[day];
            rate -= b.rateDrop;
            scaled += b.tail;
            from = boundary;
        }
        earned = scaled / SCALE;
        next = Schedule({rate: uint192(rate), remainder: uint64(scaled % SCALE), lastAccrual: uint64(to)});
    }

    /// @notice Books `amount` to be earned from now until `end` rounded up to a whole day. The schedule must have
    /// been accrued in this block.
    /// @param s The schedule.
    /// @param buckets The day buckets.
    /// @param amount The amount (non-zero).
    /// @param end When it is fully earned at the latest (after now).
    function add(Schedule storage s, Buckets storage buckets, uint256 amount, uint256 end) internal {
        uint256 day = Math.ceilDiv(end, DAY);
        uint256 span = day * DAY - block.timestamp;
        uint256 scaled = amount * SCALE;
        uint256 rate = scaled / span;
        Bucket storage b = buckets.byDay[day];
        buckets.dayBits[day >> 8] |= 1 << (day & 255);
        b.rateDrop = (uint256(b.rateDrop) + rate).toUint192();
        // tail < span < 2^64.
        b.tail = (uint256(b.tail) + (scaled - rate * span)).toUint64();
        s.rate = (uint256(s.rate) + rate).toUint192();
    }

    /// @dev The first day in `[day, lastDay]` that has a bucket, or `type(uint256).max`.
    function _nextDay(Buckets storage buckets, uint256 day, uint256 lastDay) private view returns (uint256) {
        while (day <= lastDay) {
            uint256 bits = buckets.dayBits[day >> 8] >> (day & 255);
            if (bits != 0) {
                // The lowest set bit: `bits & -bits`, in two's complement. Cannot overflow: day + 255 at most.
                unchecked {
                    uint256 found = day + Math.log2(bits & (~bits + 1));
                    return found <= lastDay ? found : type(uint256).max;
                }
            }
            day = ((day >> 8) + 1) << 8;
        }
        return type(uint256).max;
    }
}
