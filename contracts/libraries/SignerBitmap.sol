// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title SignerBitmap
/// @notice Helpers for the `uint32` bitmaps of committee member slots (bit `s` = the member in slot `s` signed).
library SignerBitmap {
    /// @notice Number of set bits (distinct signers).
    /// @param bitmap The bitmap.
    /// @return n The population count, at most 32.
    function count(uint32 bitmap) internal pure returns (uint8 n) {
        // Kernighan: each round clears the lowest set bit. Cannot underflow (bitmap != 0 inside the loop) or
        // overflow (at most 32 rounds).
        unchecked {
            while (bitmap != 0) {
                bitmap &= bitmap - 1;
                ++n;
            }
        }
    }

    /// @notice Whether bit `slot` is set.
    /// @param bitmap The bitmap.
    /// @param slot The member slot (0..31).
    /// @return True when set.
    function has(uint32 bitmap, uint8 slot) internal pure returns (bool) {
        return slot < 32 && (bitmap >> slot) & 1 == 1;
    }
}
