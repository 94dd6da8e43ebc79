// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title ReentrantToken
/// @notice A hostile 6-decimal ERC-20 for tests: once armed, its next transfer calls `target` with `data` in the
/// middle of the transfer (as an ERC-777 hook or a malicious token would) and bubbles up any revert, so a test sees
/// exactly why the re-entrant call failed.
/// @dev WARNING: test mock. Anyone can mint and arm it.
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _data;

    constructor() ERC20("Reentrant Token", "RE") {}

    /// @notice Mints `amount` to `to` (anyone; test only).
    /// @param to The recipient.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Makes the next transfer call `target` with `data` once.
    /// @param target The contract to re-enter.
    /// @param data The calldata of the re-entrant call.
    function arm(address target, bytes calldata data) external {
        _target = target;
        _data = data;
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @dev Moves the balance, then (if armed) disarms and makes the re-entrant call.
    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address target = _target;
        if (target != address(0)) {
            _target = address(0);
            Address.functionCall(target, _data);
        }
    }
}
