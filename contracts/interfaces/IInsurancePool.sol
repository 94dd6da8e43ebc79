// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title IInsurancePool
/// @notice ERC-4626 vault of underwriting capital. Liquidity providers deposit the deployment's ERC-20 and receive
/// shares; premiums (net of a protocol fee) raise the share price; the claims contract locks the coverage of every
/// policy sold and pays claims out of the pool.
///
/// Invariant: `lockedAssets() * 10000 <= totalAssets() * maxUtilisationBps()`. LPs can withdraw only capital that is
/// not needed to keep it (`maxWithdraw` / `maxRedeem` say how much).
interface IInsurancePool is IERC4626 {
    /// @notice Coverage was locked.
    /// @param amount The amount locked.
    /// @param totalLocked Locked capital afterwards.
    event CapitalLocked(uint256 amount, uint256 totalLocked);

    /// @notice Coverage was released back to free capital.
    /// @param amount The amount released.
    /// @param totalLocked Locked capital afterwards.
    event CapitalReleased(uint256 amount, uint256 totalLocked);

    /// @notice A claim was paid out of locked capital.
    /// @param claimId The claim.
    /// @param to The recipient (the policy token's holder).
    /// @param amount The amount paid.
    event ClaimPaid(uint256 indexed claimId, address indexed to, uint256 amount);

    /// @notice A premium was collected.
    /// @param policyId The policy it pays for.
    /// @param net The part added to the pool's assets.
    /// @param fee The protocol fee sent to the treasury.
    event PremiumCollected(uint256 indexed policyId, uint256 net, uint256 fee);

    /// @notice A forfeited claim deposit was added to the pool's assets.
    /// @param claimId The rejected claim.
    /// @param amount The deposit.
    event DepositForfeited(uint256 indexed claimId, uint256 amount);

    /// @notice The maximum utilisation changed.
    /// @param maxUtilisationBps The new maximum, in basis points of total assets.
    event MaxUtilisationSet(uint16 maxUtilisationBps);

    /// @notice The protocol fee changed.
    /// @param protocolFeeBps The new fee, in basis points of each premium.
    event ProtocolFeeSet(uint16 protocolFeeBps);

    /// @notice The treasury changed.
    /// @param treasury The new treasury.
    event TreasurySet(address indexed treasury);

    /// @notice The change would leave locked capital above total assets times the maximum utilisation.
    /// @param locked Locked capital after the change.
    /// @param assets Total assets after the change.
    /// @param maxUtilisationBps The maximum utilisation.
    error PoolUtilisationExceeded(uint256 locked, uint256 assets, uint16 maxUtilisationBps);

    /// @notice The maximum utilisation must be in 1..10000 basis points.
    /// @param maxUtilisationBps The value given.
    error PoolInvalidUtilisation(uint16 maxUtilisationBps);

    /// @notice The protocol fee is above its cap.
    /// @param protocolFeeBps The value given.
    /// @param max The cap.
    error PoolFeeTooHigh(uint16 protocolFeeBps, uint16 max);

    /// @notice The zero address is not allowed here.
    error PoolZeroAddress();

    /// @notice Releasing or paying more than is locked.
    /// @param amount The amount asked for.
    /// @param locked Locked capital.
    error PoolExceedsLocked(uint256 amount, uint256 locked);

    /// @notice Locks `amount` of free capital as coverage.
    /// @dev Requirements: CLAIMS_ROLE; the invariant holds afterwards. Emits {CapitalLocked}.
    /// @param amount The coverage.
    function lock(uint256 amount) external;

    /// @notice Releases `amount` of locked capital.
    /// @dev Requirements: CLAIMS_ROLE; `amount <= lockedAssets()`. Emits {CapitalReleased}.
    /// @param amount The amount.
    function release(uint256 amount) external;

    /// @notice Pays `amount` of locked capital to `to`: both locked capital and total assets drop by `amount`.
    /// @dev Requirements: CLAIMS_ROLE; `amount <= lockedAssets()`. Emits {ClaimPaid}.
    /// @param claimId The claim (for the event).
    /// @param to The recipient.
    /// @param amount The amount.
    function payClaim(uint256 claimId, address to, uint256 amount) external;

    /// @notice Pulls a premium of `amount` from the caller; the protocol fee goes to the treasury, the rest to the
    /// pool's assets (raising the share price).
    /// @dev Requirements: CLAIMS_ROLE; allowance from the caller. Emits {PremiumCollected}.
    /// @param policyId The policy (for the event).
    /// @param amount The premium.
    /// @return net The amount added to the pool's assets.
    /// @return fee The protocol fee.
    function collectPremium(uint256 policyId, uint256 amount) external returns (uint256 net, uint256 fee);

    /// @notice Pulls a forfeited claim deposit of `amount` from the caller into the pool's assets (no fee).
    /// @dev Requirements: CLAIMS_ROLE; allowance from the caller. Emits {DepositForfeited}.
    /// @param claimId The claim (for the event).
    /// @param amount The deposit.
    function collectForfeit(uint256 claimId, uint256 amount) external;

    /// @notice Sets the maximum utilisation.
    /// @dev Requirements: DEFAULT_ADMIN_ROLE; 1..10000; the invariant holds with the new value (lowering it below
    /// the current utilisation reverts). Emits {MaxUtilisationSet}.
    /// @param maxUtilisationBps_ The maximum in basis points of total assets.
    function setMaxUtilisation(uint16 maxUtilisationBps_) external;

    /// @notice Sets the protocol fee taken from premiums.
    /// @dev Requirements: DEFAULT_ADMIN_ROLE; at most `MAX_PROTOCOL_FEE_BPS`. Emits {ProtocolFeeSet}.
    /// @param protocolFeeBps_ The fee in basis points.
    function setProtocolFee(uint16 protocolFeeBps_) external;

    /// @notice Sets the treasury that receives protocol fees.
    /// @dev Requirements: DEFAULT_ADMIN_ROLE; non-zero. Emits {TreasurySet}.
    /// @param treasury_ The treasury.
    function setTreasury(address treasury_) external;

    /// @notice Capital locked as coverage of live policies.
    /// @return The locked amount.
    function lockedAssets() external view returns (uint256);

    /// @notice Assets LPs could withdraw in total without breaking the invariant.
    /// @return `totalAssets - ceil(locked * 10000 / maxUtilisationBps)`, or zero.
    function freeAssets() external view returns (uint256);

    /// @notice Coverage that could still be locked now.
    /// @return `floor(totalAssets * maxUtilisationBps / 10000) - locked`, or zero.
    function lockableAssets() external view returns (uint256);

    /// @notice Maximum utilisation in basis points of total assets.
    /// @return The maximum.
    function maxUtilisationBps() external view returns (uint16);

    /// @notice Protocol fee in basis points of each premium.
    /// @return The fee.
    function protocolFeeBps() external view returns (uint16);

    /// @notice Receiver of protocol fees.
    /// @return The treasury.
    function treasury() external view returns (address);
}
