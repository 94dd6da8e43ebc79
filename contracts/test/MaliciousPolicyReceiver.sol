// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IClaimsInsurance} from "../interfaces/IClaimsInsurance.sol";

/// @title MaliciousPolicyReceiver
/// @notice Test double: a policy buyer whose `onERC721Received` re-enters ClaimsInsurance while its policy token is
/// being minted. In `swallow` mode it records the re-entrant call's revert data and accepts the token; otherwise
/// the revert bubbles up and fails the purchase.
/// @dev WARNING: local tests only; `execute` lets anyone make this contract call anything.
contract MaliciousPolicyReceiver is IERC721Receiver {
    /// @notice What the hook does.
    enum Attack {
        None,
        BuyPolicy,
        FileClaim,
        ReleaseCoverage,
        Settle,
        RejectToken,
        Call
    }

    /// @notice The contract under attack.
    // solhint-disable-next-line immutable-vars-naming
    IClaimsInsurance public immutable claims;
    /// @notice The configured attack.
    Attack public attack;
    /// @notice Record the re-entrant call's failure instead of bubbling it.
    bool public swallow;
    /// @notice Revert data of the last swallowed re-entrant call.
    bytes public lastRevertData;
    /// @notice Number of times the hook ran.
    uint256 public hookCalls;

    bytes private _callData;
    uint256 private _productId;
    address private _device;
    uint256 private _coverage;
    uint32 private _duration;

    constructor(IClaimsInsurance claims_) {
        claims = claims_;
    }

    /// @notice Configures the hook.
    function setAttack(Attack attack_, bool swallow_) external {
        attack = attack_;
        swallow = swallow_;
    }

    /// @notice Configures the hook to re-enter with `data` (any ClaimsInsurance call), recording its failure.
    function setAttackCall(bytes calldata data) external {
        attack = Attack.Call;
        swallow = true;
        _callData = data;
    }

    /// @notice Makes this contract call `target` (for example to register a device it owns, or approve tokens).
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        return Address.functionCall(target, data);
    }

    /// @notice Approves the claims contract to pull premiums and deposits.
    function approveToken(IERC20 token) external {
        token.approve(address(claims), type(uint256).max);
    }

    /// @notice Buys a policy; the hook runs while its token is minted.
    function buy(uint256 productId, address device, uint256 coverage, uint32 duration) external returns (uint256) {
        _productId = productId;
        _device = device;
        _coverage = coverage;
        _duration = duration;
        return claims.buyPolicy(productId, device, coverage, duration);
    }

    /// @inheritdoc IERC721Receiver
    function onERC721Received(address, address, uint256 tokenId, bytes calldata) external returns (bytes4) {
        ++hookCalls;
        if (attack == Attack.RejectToken) return bytes4(0);
        if (attack != Attack.None) {
            bytes memory data = _attackCall(tokenId);
            if (swallow) {
                // The low-level call is the point: keep the revert data of the re-entrant call.
                // solhint-disable-next-line avoid-low-level-calls
                (bool ok, bytes memory ret) = address(claims).call(data);
                if (!ok) lastRevertData = ret;
            } else {
                Address.functionCall(address(claims), data);
            }
        }
        return IERC721Receiver.onERC721Received.selector;
    }

    function _attackCall(uint256 tokenId) private view returns (bytes memory) {
        if (attack == Attack.BuyPolicy) {
            return abi.encodeCall(IClaimsInsurance.buyPolicy, (_productId, _device, _coverage, _duration));
        }
        if (attack == Attack.FileClaim) {
            return abi.encodeCall(
                IClaimsInsurance.fileClaim, (tokenId, 1, uint64(block.timestamp), keccak256("reentrant"), "reentrant")
            );
        }
        if (attack == Attack.ReleaseCoverage) return abi.encodeCall(IClaimsInsurance.releaseCoverage, (tokenId));
        if (attack == Attack.Call) return _callData;
        return abi.encodeCall(IClaimsInsurance.settle, (1));
    }
}
