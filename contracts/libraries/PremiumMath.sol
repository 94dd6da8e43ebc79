// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title PremiumMath
/// @notice Premium and fee arithmetic shared by ClaimsInsurance and InsurancePool. Rounding always favours the pool:
/// premiums round up, the protocol fee taken out of them rounds down.
library PremiumMath {
    /// @notice Basis points in one whole.
    uint256 internal constant BPS = 10_000;
    /// @notice The premium rate's year.
    uint256 internal constant YEAR = 365 days;

    /// @notice `coverage * rateBps * duration / (10000 * 365 days)`, rounded up.
    /// @param coverage Coverage in token units.
    /// @param rateBps Premium per year in basis points of the coverage.
    /// @param duration Policy duration in seconds.
    /// @return The premium in token units.
    function premium(uint256 coverage, uint256 rateBps, uint256 duration) internal pure returns (uint256) {
        return Math.mulDiv(coverage, rateBps * duration, BPS * YEAR, Math.Rounding.Ceil);
    }

    /// @notice `amount * feeBps / 10000`, rounded down.
    /// @param amount The amount the fee is taken from.
    /// @param feeBps The fee in basis points.
    /// @return The fee.
    function fee(uint256 amount, uint256 feeBps) internal pure returns (uint256) {
        return Math.mulDiv(amount, feeBps, BPS);
    }
}
