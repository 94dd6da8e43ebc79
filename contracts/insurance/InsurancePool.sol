// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IInsurancePool} from "../interfaces/IInsurancePool.sol";
import {PremiumMath} from "../libraries/PremiumMath.sol";

/// @title InsurancePool
/// @notice ERC-4626 vault of underwriting capital over the deployment's ERC-20 (docs/protocol.md §10, §12).
///
/// Accounting: `totalAssets()` is an internal ledger, not `balanceOf(this)`. It moves only with deposits,
/// withdrawals, premiums, forfeited deposits and payouts, so `asset.balanceOf(pool) == totalAssets()` unless somebody
/// transfers tokens to the pool directly (such a donation is ignored: it can neither move the share price nor be
/// withdrawn).
///
/// Invariant (I1): `locked * 10000 <= assets * maxUtilisationBps`. Every write of the ledger goes through
/// {_commit}, the one choke point that checks it. Locking and withdrawing can break it and are refused there;
/// payouts, releases, premiums, forfeits and deposits cannot (a payout `p <= locked` gives
/// `(locked - p) * 10000 <= assets * u - p * 10000 <= (assets - p) * u` because `u <= 10000`), and
/// {setMaxUtilisation} refuses a value that the current ledger would break.
///
/// Inflation attack: `_decimalsOffset() = 6`. OpenZeppelin's virtual shares and assets then make the first
/// depositor's share price start at 1e-6 asset per share; an attacker who tries to inflate it (donations do nothing
/// here; the only route is paying premiums into the pool) must add about 1e6 times the amount it hopes to steal by
/// rounding, so the attack loses money. The shares have `asset.decimals() + 6` decimals (12 for a 6-decimal token).
///
/// WARNING: the asset must be a plain ERC-20 (no fee on transfer, no rebasing): the ledger assumes that a transfer of
/// `x` moves exactly `x`.
contract InsurancePool is IInsurancePool, ERC4626, AccessControl {
    using SafeCast for uint256;
    using SafeERC20 for IERC20;

    /// @notice Role of the claims contract: locks, releases and pays coverage, collects premiums and deposits.
    bytes32 public constant CLAIMS_ROLE = keccak256("CLAIMS_ROLE");

    /// @notice Highest protocol fee: 20% of each premium.
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 2_000;

    uint16 private constant _BPS = 10_000;

    /// @dev The whole ledger in one slot: a payout reads and writes it once.
    struct Ledger {
        uint112 assets;
        uint112 locked;
        uint16 maxUtilisationBps;
        uint16 protocolFeeBps;
    }

    Ledger private _ledger;
    address private _treasury;

    /// @param asset_ The deployment's ERC-20.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (parameters and role grants).
    /// @param treasury_ Receiver of protocol fees.
    /// @param maxUtilisationBps_ Maximum utilisation, 1..10000.
    /// @param protocolFeeBps_ Protocol fee, at most {MAX_PROTOCOL_FEE_BPS}.
    constructor(IERC20 asset_, address admin, address treasury_, uint16 maxUtilisationBps_, uint16 protocolFeeBps_)
        ERC20("Triad Insurance Pool", "triPOOL")
        ERC4626(asset_)
    {
        if (address(asset_) == address(0) || admin == address(0)) revert PoolZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setMaxUtilisation(maxUtilisationBps_);
        _setProtocolFee(protocolFeeBps_);
    }

    // ------------------------------------------------------------------ claims contract

    /// @inheritdoc IInsurancePool
    function lock(uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _lock(amount);
    }

    /// @inheritdoc IInsurancePool
    function release(uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _release(amount);
    }

    /// @inheritdoc IInsurancePool
    function payClaim(uint256 claimId, address to, uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _payClaim(claimId, to, amount);
    }

    /// @inheritdoc IInsurancePool
    function collectPremium(uint256 policyId, uint256 amount)
        external
        onlyRole(CLAIMS_ROLE)
        returns (uint256 net, uint256 fee)
    {
        return _collectPremium(policyId, amount);
    }

    /// @inheritdoc IInsurancePool
    function collectForfeit(uint256 claimId, uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _collectForfeit(claimId, amount);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IInsurancePool
    function setMaxUtilisation(uint16 maxUtilisationBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxUtilisation(maxUtilisationBps_);
    }

    /// @inheritdoc IInsurancePool
    function setProtocolFee(uint16 protocolFeeBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setProtocolFee(protocolFeeBps_);
    }

    /// @inheritdoc IInsurancePool
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IERC4626
    function totalAssets() public view override(IERC4626, ERC4626) returns (uint256) {
        return _ledger.assets;
    }

    /// @inheritdoc IERC4626
    /// @dev Bounded by the ledger's 112-bit width.
    function maxDeposit(address) public view override(IERC4626, ERC4626) returns (uint256) {
        return type(uint112).max - _ledger.assets;
    }

    /// @inheritdoc IERC4626
    function maxMint(address receiver) public view override(IERC4626, ERC4626) returns (uint256) {
        return _convertToShares(maxDeposit(receiver), Math.Rounding.Floor);
    }

    /// @inheritdoc IERC4626
    /// @dev Only free capital: at most {freeAssets}.
    function maxWithdraw(address owner) public view override(IERC4626, ERC4626) returns (uint256) {
        return Math.min(_convertToAssets(balanceOf(owner), Math.Rounding.Floor), freeAssets());
    }

    /// @inheritdoc IERC4626
    /// @dev Only free capital: at most the shares {freeAssets} buys back, rounded down.
    function maxRedeem(address owner) public view override(IERC4626, ERC4626) returns (uint256) {
        return Math.min(balanceOf(owner), _convertToShares(freeAssets(), Math.Rounding.Floor));
    }

    /// @inheritdoc IInsurancePool
    function lockedAssets() external view returns (uint256) {
        return _ledger.locked;
    }

    /// @inheritdoc IInsurancePool
    function freeAssets() public view returns (uint256) {
        Ledger memory ledger = _ledger;
        uint256 needed = Math.mulDiv(ledger.locked, _BPS, ledger.maxUtilisationBps, Math.Rounding.Ceil);
        return ledger.assets > needed ? ledger.assets - needed : 0;
    }

    /// @inheritdoc IInsurancePool
    function lockableAssets() external view returns (uint256) {
        Ledger memory ledger = _ledger;
        uint256 cap = Math.mulDiv(ledger.assets, ledger.maxUtilisationBps, _BPS);
        return cap > ledger.locked ? cap - ledger.locked : 0;
    }

    /// @inheritdoc IInsurancePool
    function maxUtilisationBps() external view returns (uint16) {
        return _ledger.maxUtilisationBps;
    }

    /// @inheritdoc IInsurancePool
    function protocolFeeBps() external view returns (uint16) {
        return _ledger.protocolFeeBps;
    }

    /// @inheritdoc IInsurancePool
    function treasury() external view returns (address) {
        return _treasury;
    }

    // ------------------------------------------------------------------ internal

    function _lock(uint256 amount) private {
        Ledger memory ledger = _ledger;
        ledger.locked = (uint256(ledger.locked) + amount).toUint112();
        _commit(ledger);
        emit CapitalLocked(amount, ledger.locked);
    }

    function _release(uint256 amount) private {
        Ledger memory ledger = _ledger;
        if (amount > ledger.locked) revert PoolExceedsLocked(amount, ledger.locked);
        // Cannot underflow: checked just above.
        unchecked {
            ledger.locked -= uint112(amount);
        }
        _commit(ledger);
        emit CapitalReleased(amount, ledger.locked);
    }

    function _payClaim(uint256 claimId, address to, uint256 amount) private {
        Ledger memory ledger = _ledger;
        if (amount > ledger.locked) revert PoolExceedsLocked(amount, ledger.locked);
        // Cannot underflow: amount <= locked, and locked <= assets by I1 (maxUtilisationBps <= 10000).
        unchecked {
            ledger.locked -= uint112(amount);
            ledger.assets -= uint112(amount);
        }
        _commit(ledger);
        emit ClaimPaid(claimId, to, amount);
        IERC20(asset()).safeTransfer(to, amount);
    }

    function _collectPremium(uint256 policyId, uint256 amount) private returns (uint256 net, uint256 fee) {
        Ledger memory ledger = _ledger;
        fee = PremiumMath.fee(amount, ledger.protocolFeeBps);
        // Cannot underflow: fee <= amount (protocolFeeBps <= 10000).
        unchecked {
            net = amount - fee;
        }
        ledger.assets = (uint256(ledger.assets) + net).toUint112();
        _commit(ledger);
        emit PremiumCollected(policyId, net, fee);
        IERC20 token = IERC20(asset());
        token.safeTransferFrom(msg.sender, address(this), amount);
        if (fee != 0) token.safeTransfer(_treasury, fee);
    }

    function _collectForfeit(uint256 claimId, uint256 amount) private {
        Ledger memory ledger = _ledger;
        ledger.assets = (uint256(ledger.assets) + amount).toUint112();
        _commit(ledger);
        emit DepositForfeited(claimId, amount);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @dev ERC-4626 deposit: OpenZeppelin pulls the assets and mints, then the ledger books them.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        super._deposit(caller, receiver, assets, shares);
        Ledger memory ledger = _ledger;
        ledger.assets = (uint256(ledger.assets) + assets).toUint112();
        _commit(ledger);
    }

    /// @dev ERC-4626 withdrawal: the ledger (and so I1) is checked first, then OpenZeppelin burns and transfers.
    /// `withdraw`/`redeem` have already refused amounts above `maxWithdraw`/`maxRedeem`.
    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
    {
        Ledger memory ledger = _ledger;
        ledger.assets = (uint256(ledger.assets) - assets).toUint112();
        _commit(ledger);
        super._withdraw(caller, receiver, owner, assets, shares);
    }

    /// @dev Virtual shares: see the contract NatSpec (inflation attack).
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    /// @dev THE choke point of invariant I1: every ledger write goes through here.
    function _commit(Ledger memory ledger) private {
        if (uint256(ledger.locked) * _BPS > uint256(ledger.assets) * ledger.maxUtilisationBps) {
            revert PoolUtilisationExceeded(ledger.locked, ledger.assets, ledger.maxUtilisationBps);
        }
        _ledger = ledger;
    }

    function _setMaxUtilisation(uint16 bps) private {
        if (bps == 0 || bps > _BPS) revert PoolInvalidUtilisation(bps);
        Ledger memory ledger = _ledger;
        ledger.maxUtilisationBps = bps;
        _commit(ledger);
        emit MaxUtilisationSet(bps);
    }

    function _setProtocolFee(uint16 bps) private {
        if (bps > MAX_PROTOCOL_FEE_BPS) revert PoolFeeTooHigh(bps, MAX_PROTOCOL_FEE_BPS);
        Ledger memory ledger = _ledger;
        ledger.protocolFeeBps = bps;
        _commit(ledger);
        emit ProtocolFeeSet(bps);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert PoolZeroAddress();
        _treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
