// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TestToken
/// @notice A 6-decimal ERC-20 with EIP-2612 permit, standing in for a stablecoin on local networks only.
/// @dev WARNING: the owner can mint without limit. Never deploy this to a public network as real money.
contract TestToken is ERC20, ERC20Permit, Ownable {
    constructor(address initialOwner) ERC20("Triad Test USD", "tUSD") ERC20Permit("Triad Test USD") Ownable(initialOwner) {}

    /// @notice Mints `amount` base units to `to`. Only the owner.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }
}
