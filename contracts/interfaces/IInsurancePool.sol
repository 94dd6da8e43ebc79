// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title IInsurancePool
/// @notice ERC-4626 vault of underwriting capital with ERC-7540 asynchronous redemption (docs/protocol.md §12).
/// Liquidity providers deposit the deployment's ERC-20 and receive shares at once; premiums (net of a protocol fee)
/// are earned linearly over the policy term; approved payouts are reserved at approval; shares leave through a
/// redeem request that becomes claimable after a cooldown and pays the lower of the share price at request and at
/// claim.
///
/// Books: `asset.balanceOf(pool) == capital + unearnedPremiums()` (plus tokens sent directly, which
/// {sweepSurplus} moves to the treasury), where `capital = totalAssets() + reservedPayouts()`.
/// Invariant: `lockedAssets() * 10000 <= capital * maxUtilisationBps()` and `reservedPayouts() <= lockedAssets()`.
interface IInsurancePool is IERC4626 {
    /// @notice ERC-7540: `owner` moved `shares` into the pool's escrow in a redeem request of `controller`.
    /// @param controller Who claims (or cancels) the request.
    /// @param owner Whose shares were escrowed.
    /// @param requestId Always 0: one aggregated request per controller.
    /// @param sender The caller.
    /// @param shares The shares added to the request.
    event RedeemRequest(
        address indexed controller, address indexed owner, uint256 indexed requestId, address sender, uint256 shares
    );

    /// @notice A redeem request was cancelled and its escrowed shares returned to the controller.
    /// @param controller The request's controller.
    /// @param shares The shares returned.
    event RedeemRequestCancelled(address indexed controller, uint256 shares);

    /// @notice ERC-7540: `controller` set `operator`'s permission to manage its requests.
    /// @param controller The controller.
    /// @param operator The operator.
    /// @param approved Whether the operator is approved.
    event OperatorSet(address indexed controller, address indexed operator, bool approved);

    /// @notice Premium (or forfeited deposits) moved from unearned to LP equity.
    /// @param amount Earned since the previous accrual.
    /// @param unearned Unearned premium left.
    event PremiumsEarned(uint256 amount, uint256 unearned);

    /// @notice A claim's payout reserve was set (zero releases it).
    /// @param claimId The claim.
    /// @param amount The claim's reserve now.
    /// @param totalReserved All reserves afterwards.
    event PayoutReserved(uint256 indexed claimId, uint256 amount, uint256 totalReserved);

    /// @notice The withdrawal cooldown changed (applies to requests made afterwards).
    /// @param cooldown Seconds from a request until it can be claimed.
    event WithdrawalCooldownSet(uint32 cooldown);

    /// @notice Tokens held above the books were sent to the treasury.
    /// @param treasury The receiver.
    /// @param amount The surplus.
    event SurplusSwept(address indexed treasury, uint256 amount);

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

    /// @notice A premium was collected; `net` is booked as unearned premium and earned linearly over the policy term.
    /// @param policyId The policy it pays for.
    /// @param net The part kept by the pool.
    /// @param fee The protocol fee sent to the treasury.
    event PremiumCollected(uint256 indexed policyId, uint256 net, uint256 fee);

    /// @notice A forfeited claim deposit was booked as unearned, earned linearly over one withdrawal cooldown.
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

    /// @notice Releasing or paying more than is locked (or reserving more than is locked and not reserved).
    /// @param amount The amount asked for.
    /// @param locked Locked capital (not yet reserved, for a reservation).
    error PoolExceedsLocked(uint256 amount, uint256 locked);

    /// @notice A policy term must start no later than now and end after it.
    /// @param start The start given.
    /// @param end The end given.
    error PoolInvalidTerm(uint256 start, uint256 end);

    /// @notice The withdrawal cooldown is below its floor.
    /// @param cooldown The value given.
    /// @param min The floor ({MIN_WITHDRAWAL_COOLDOWN}).
    error PoolCooldownTooShort(uint32 cooldown, uint32 min);

    /// @notice The caller is neither the controller (or owner) nor its operator.
    /// @param caller The caller.
    /// @param controller The account acted for.
    error PoolNotOperator(address caller, address controller);

    /// @notice A redeem request needs shares.
    error PoolZeroShares();

    /// @notice The controller has no redeem request to cancel.
    /// @param controller The controller.
    error PoolNoRequest(address controller);

    /// @notice ERC-7540: previews of asynchronous redemption revert; read {maxRedeem}/{maxWithdraw} of a claimable
    /// request instead.
    error PoolAsyncRedemption();

    /// @notice The pool cannot be its own treasury (fees sent to itself would be stuck).
    /// @param treasury The value given.
    error PoolInvalidTreasury(address treasury);

    /// @notice Locks `amount` of free capital as coverage.
    /// @dev Requirements: CLAIMS_ROLE; the invariant holds afterwards. Emits {CapitalLocked}.
    /// @param amount The coverage.
    function lock(uint256 amount) external;

    /// @notice Releases `amount` of locked capital.
    /// @dev Requirements: CLAIMS_ROLE; `amount <= lockedAssets()`. Emits {CapitalReleased}.
    /// @param amount The amount.
    function release(uint256 amount) external;

    /// @notice Releases the claim's payout reserve (if any) and pays `amount` of locked capital to `to`: locked
    /// capital and the books drop by `amount`; LP equity drops by `amount` minus the reserve released.
    /// @dev Requirements: CLAIMS_ROLE; `amount <= lockedAssets()`. Emits {PayoutReserved} when a reserve is
    /// released, and {ClaimPaid} when `amount != 0`.
    /// @param claimId The claim (for the event).
    /// @param to The recipient.
    /// @param amount The amount.
    function payClaim(uint256 claimId, address to, uint256 amount) external;

    /// @notice Pulls a premium of `amount` from the caller; the protocol fee goes to the treasury, the rest is booked
    /// as unearned premium and earned linearly from now until `end` rounded up to a whole UTC day (never faster).
    /// @dev Requirements: CLAIMS_ROLE; allowance from the caller; `start <= block.timestamp < end`.
    /// Emits {PremiumCollected}.
    /// @param policyId The policy (for the event).
    /// @param amount The premium.
    /// @param start The policy's start.
    /// @param end The policy's end.
    /// @return net The amount kept by the pool.
    /// @return fee The protocol fee.
    function collectPremium(uint256 policyId, uint256 amount, uint64 start, uint64 end)
        external
        returns (uint256 net, uint256 fee);

    /// @notice Sets the payout reserve of `claimId` to `amount` (zero releases it): LP equity drops by the change.
    /// @dev Requirements: CLAIMS_ROLE; all reserves stay within locked capital. Emits {PayoutReserved}.
    /// @param claimId The claim.
    /// @param amount What the claim will pay if it settles as decided.
    function reservePayout(uint256 claimId, uint256 amount) external;

    /// @notice ERC-7540: moves `shares` of `owner` into escrow as a redeem request of `controller`, claimable after
    /// the withdrawal cooldown. Adding to a pending or claimable request restarts its cooldown. Escrowed shares
    /// keep bearing losses and earning premium; the claim pays the lower of their value now and at request.
    /// @dev Requirements: `shares != 0`; the caller is `owner`, its operator, or has an ERC-20 allowance of the
    /// shares. Emits {RedeemRequest}.
    /// @param shares The shares.
    /// @param controller Who may claim or cancel.
    /// @param owner Whose shares.
    /// @return requestId Always 0.
    function requestRedeem(uint256 shares, address controller, address owner) external returns (uint256 requestId);

    /// @notice Cancels the redeem request of `controller` (pending or claimable) and returns its shares to it.
    /// @dev Requirements: `requestId == 0`; the caller is `controller` or its operator; a request exists.
    /// Emits {RedeemRequestCancelled}.
    /// @param requestId Always 0.
    /// @param controller The controller.
    function cancelRedeemRequest(uint256 requestId, address controller) external;

    /// @notice ERC-7540: approves or revokes `operator` to request, claim and cancel for the caller.
    /// @dev Emits {OperatorSet}.
    /// @param operator The operator.
    /// @param approved Whether approved.
    /// @return Always true.
    function setOperator(address operator, bool approved) external returns (bool);

    /// @notice Sets the withdrawal cooldown (for requests made afterwards).
    /// @dev Requirements: DEFAULT_ADMIN_ROLE; at least {MIN_WITHDRAWAL_COOLDOWN}; should be at least the longest
    /// assessment + appeal window of the products sold against this pool. Emits {WithdrawalCooldownSet}.
    /// @param cooldown Seconds.
    function setWithdrawalCooldown(uint32 cooldown) external;

    /// @notice Sends the tokens held above the books (sent to the pool directly) to the treasury.
    /// @dev Requirements: DEFAULT_ADMIN_ROLE. Emits {SurplusSwept}.
    /// @return amount The surplus swept.
    function sweepSurplus() external returns (uint256 amount);

    /// @notice ERC-7540: whether `operator` may act for `controller`.
    /// @param controller The controller.
    /// @param operator The operator.
    /// @return Whether approved.
    function isOperator(address controller, address operator) external view returns (bool);

    /// @notice ERC-7540: shares of `controller`'s request still in cooldown.
    /// @param requestId Always 0.
    /// @param controller The controller.
    /// @return shares The pending shares.
    function pendingRedeemRequest(uint256 requestId, address controller) external view returns (uint256 shares);

    /// @notice ERC-7540: shares of `controller`'s request past its cooldown (claim with {redeem}/{withdraw}).
    /// @param requestId Always 0.
    /// @param controller The controller.
    /// @return shares The claimable shares.
    function claimableRedeemRequest(uint256 requestId, address controller) external view returns (uint256 shares);

    /// @notice The request of `controller`: its shares, their value at request and when it becomes claimable.
    /// @param controller The controller.
    /// @return shares Escrowed shares.
    /// @return assetsAtRequest Their value when requested (the claim pays at most this, pro rata).
    /// @return claimableAt When it becomes claimable (0: no request).
    function redeemRequest(address controller)
        external
        view
        returns (uint256 shares, uint256 assetsAtRequest, uint64 claimableAt);

    /// @notice Seconds from a redeem request until it can be claimed.
    /// @return The cooldown.
    function withdrawalCooldown() external view returns (uint32);

    /// @notice Premiums and forfeited deposits not yet earned (a liability, not LP equity), exact at this block.
    /// @return The unearned amount.
    function unearnedPremiums() external view returns (uint256);

    /// @notice Payouts of approved (and escalated) claims not yet settled (a liability, not LP equity).
    /// @return The reserved amount.
    function reservedPayouts() external view returns (uint256);

    /// @notice ERC-7575: the share token (this contract).
    /// @return This contract's address.
    function share() external view returns (address);

    /// @notice Pulls a forfeited claim deposit of `amount` from the caller (no fee), earned linearly over one
    /// withdrawal cooldown.
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
    /// @dev Requirements: DEFAULT_ADMIN_ROLE; non-zero and not the pool. Emits {TreasurySet}.
    /// @param treasury_ The treasury.
    function setTreasury(address treasury_) external;

    /// @notice Capital locked as coverage of live policies.
    /// @return The locked amount.
    function lockedAssets() external view returns (uint256);

    /// @notice Assets LPs could withdraw in total (through claimed requests) without breaking the invariant.
    /// @return `capital - ceil(locked * 10000 / maxUtilisationBps)`, or zero.
    function freeAssets() external view returns (uint256);

    /// @notice Coverage that could still be locked now.
    /// @return `floor(capital * maxUtilisationBps / 10000) - locked`, or zero.
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
