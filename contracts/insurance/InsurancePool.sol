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
import {PremiumEarning} from "../libraries/PremiumEarning.sol";

/// @title InsurancePool
/// @notice ERC-4626 vault of underwriting capital over the deployment's ERC-20, with ERC-7540 asynchronous
/// redemption (docs/protocol.md §12, docs/insurance.md "Pool economics").
///
/// Books: the pool's token balance equals `capital + unearned` (tokens sent to it directly are surplus, which
/// {sweepSurplus} sends to the treasury). `capital` is what backs coverage; LP equity is
/// `totalAssets() = capital - reserved`:
/// - a net premium (and a forfeited claim deposit) enters `unearned`, a liability, and is earned linearly into
///   `capital` (see {PremiumEarning}): the share price never jumps at a purchase (H-1);
/// - an approved payout is `reserved` at approval (and an escalated claim at its claimed amount), so the share price
///   falls when the loss is known, not at settlement (H-2); a release or a settlement frees the reserve;
/// - shares leave only through a redeem request: they move into escrow (still bearing losses and earning), become
///   claimable after `withdrawalCooldown`, and pay the lower of their value at request and at claim.
///
/// Accrual: every state-changing function starts with {_accrue}; the views simulate it, so `totalAssets()` is exact
/// in every block. The catch-up reads one bitmap word per 256 days elapsed and one bucket per day on which premiums
/// stopped earning (about 2,300 gas each), once, for the next caller after a quiet period.
///
/// Invariant (I1): `locked * 10000 <= capital * maxUtilisationBps`. Every write of the ledger goes through
/// {_commit}, the one choke point that checks it. Locking and withdrawing can break it and are refused there;
/// payouts, releases, earning, premiums, forfeits and deposits cannot (a payout `p <= locked` gives
/// `(locked - p) * 10000 <= capital * u - p * 10000 <= (capital - p) * u` because `u <= 10000`), and
/// {setMaxUtilisation} refuses a value that the current ledger would break. (I2) `reserved <= locked`: each claim's
/// reserve is at most its policy's remaining locked coverage (ClaimsInsurance C1/C2), checked at reservation.
///
/// Inflation attack: `_decimalsOffset() = 6`. OpenZeppelin's virtual shares and assets then make the first
/// depositor's share price start at 1e-6 asset per share; an attacker who tries to inflate it (donations do nothing
/// here; premiums are earned slowly) must add about 1e6 times the amount it hopes to steal by rounding, so the
/// attack loses money. The shares have `asset.decimals() + 6` decimals (12 for a 6-decimal token).
///
/// WARNING: the asset must be a plain ERC-20 (no fee on transfer, no rebasing): the books assume that a transfer of
/// `x` moves exactly `x`.
contract InsurancePool is IInsurancePool, ERC4626, AccessControl {
    using SafeCast for uint256;
    using SafeERC20 for IERC20;

    /// @notice Role of the claims contract: locks, releases and pays coverage, collects premiums and deposits,
    /// reserves payouts.
    bytes32 public constant CLAIMS_ROLE = keccak256("CLAIMS_ROLE");

    /// @notice Highest protocol fee: 20% of each premium.
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 2_000;

    /// @notice Shortest withdrawal cooldown. Deployments set at least the longest assessment + appeal window of their
    /// products (docs/protocol.md §12); the floor only keeps a mistyped zero out.
    uint32 public constant MIN_WITHDRAWAL_COOLDOWN = 1 hours;

    uint16 private constant _BPS = 10_000;

    /// @dev Capital and utilisation in one slot: a payout reads and writes it once.
    struct Ledger {
        uint112 capital;
        uint112 locked;
        uint16 maxUtilisationBps;
        uint16 protocolFeeBps;
    }

    /// @dev Liabilities that are not LP equity, and the cooldown (read with them by every request).
    struct Liabilities {
        uint112 unearned;
        uint112 reserved;
        uint32 withdrawalCooldown;
    }

    /// @dev One redeem request per controller (ERC-7540 requestId 0).
    struct Request {
        uint256 shares;
        uint112 assetsAtRequest;
        uint64 claimableAt;
    }

    Ledger private _ledger;
    Liabilities private _liabilities;
    PremiumEarning.Schedule private _earning;
    PremiumEarning.Buckets private _buckets;
    address private _treasury;
    mapping(address controller => Request) private _requests;
    mapping(uint256 claimId => uint256 amount) private _reserves;
    mapping(address controller => mapping(address operator => bool)) private _operators;

    /// @param asset_ The deployment's ERC-20.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (parameters and role grants).
    /// @param treasury_ Receiver of protocol fees.
    /// @param maxUtilisationBps_ Maximum utilisation, 1..10000.
    /// @param protocolFeeBps_ Protocol fee, at most {MAX_PROTOCOL_FEE_BPS}.
    /// @param withdrawalCooldown_ Seconds from a redeem request to its claim, at least {MIN_WITHDRAWAL_COOLDOWN}.
    constructor(
        IERC20 asset_,
        address admin,
        address treasury_,
        uint16 maxUtilisationBps_,
        uint16 protocolFeeBps_,
        uint32 withdrawalCooldown_
    ) ERC20("Triad Insurance Pool", "triPOOL") ERC4626(asset_) {
        if (address(asset_) == address(0) || admin == address(0)) revert PoolZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setMaxUtilisation(maxUtilisationBps_);
        _setProtocolFee(protocolFeeBps_);
        _setWithdrawalCooldown(withdrawalCooldown_);
        _earning.lastAccrual = uint64(block.timestamp);
    }

    // ------------------------------------------------------------------ claims contract

    /// @inheritdoc IInsurancePool
    function lock(uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _accrue();
        _lock(amount);
    }

    /// @inheritdoc IInsurancePool
    function release(uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _accrue();
        _release(amount);
    }

    /// @inheritdoc IInsurancePool
    function payClaim(uint256 claimId, address to, uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _accrue();
        _payClaim(claimId, to, amount);
    }

    /// @inheritdoc IInsurancePool
    function reservePayout(uint256 claimId, uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _accrue();
        _setReserve(claimId, amount);
    }

    /// @inheritdoc IInsurancePool
    function collectPremium(uint256 policyId, uint256 amount, uint64 start, uint64 end)
        external
        onlyRole(CLAIMS_ROLE)
        returns (uint256 net, uint256 fee)
    {
        _accrue();
        return _collectPremium(policyId, amount, start, end);
    }

    /// @inheritdoc IInsurancePool
    function collectForfeit(uint256 claimId, uint256 amount) external onlyRole(CLAIMS_ROLE) {
        _accrue();
        _collectForfeit(claimId, amount);
    }

    // ------------------------------------------------------------------ liquidity providers

    /// @inheritdoc IERC4626
    function deposit(uint256 assets, address receiver) public override(IERC4626, ERC4626) returns (uint256) {
        _accrue();
        return super.deposit(assets, receiver);
    }

    /// @inheritdoc IERC4626
    function mint(uint256 shares, address receiver) public override(IERC4626, ERC4626) returns (uint256) {
        _accrue();
        return super.mint(shares, receiver);
    }

    /// @inheritdoc IInsurancePool
    function requestRedeem(uint256 shares, address controller, address owner) external returns (uint256 requestId) {
        _accrue();
        _requestRedeem(shares, controller, owner);
        return 0;
    }

    /// @inheritdoc IInsurancePool
    function cancelRedeemRequest(uint256, address controller) external {
        _accrue();
        _cancelRedeemRequest(controller);
    }

    /// @notice ERC-7540 claim: redeems `shares` of `controller`'s claimable request, paying the lower of their value
    /// now and at request (pro rata), within free capital.
    /// @dev Requirements: the caller is `controller` or its operator; `shares <= maxRedeem(controller)`.
    /// Emits {IERC4626-Withdraw} with `owner = controller`.
    /// @param shares The shares.
    /// @param receiver Receives the assets.
    /// @param controller The request's controller.
    /// @return assets The assets paid.
    function redeem(uint256 shares, address receiver, address controller)
        public
        override(IERC4626, ERC4626)
        returns (uint256 assets)
    {
        _accrue();
        _requireOperator(controller);
        uint256 max = maxRedeem(controller);
        if (shares > max) revert ERC4626ExceededMaxRedeem(controller, shares, max);
        if (shares != 0) {
            Request storage r = _requests[controller];
            assets = Math.mulDiv(shares, _requestValue(r), r.shares);
            _claim(r, controller, receiver, assets, shares);
        }
    }

    /// @notice ERC-7540 claim: withdraws `assets` from `controller`'s claimable request, burning the escrowed shares
    /// they cost at the lower of the price now and at request (rounded up), within free capital.
    /// @dev Requirements: the caller is `controller` or its operator; `assets <= maxWithdraw(controller)`.
    /// Emits {IERC4626-Withdraw} with `owner = controller`.
    /// @param assets The assets.
    /// @param receiver Receives them.
    /// @param controller The request's controller.
    /// @return shares The escrowed shares burnt.
    function withdraw(uint256 assets, address receiver, address controller)
        public
        override(IERC4626, ERC4626)
        returns (uint256 shares)
    {
        _accrue();
        _requireOperator(controller);
        uint256 max = maxWithdraw(controller);
        if (assets > max) revert ERC4626ExceededMaxWithdraw(controller, assets, max);
        if (assets != 0) {
            Request storage r = _requests[controller];
            // The value is non-zero here: assets <= max <= value.
            shares = Math.mulDiv(assets, r.shares, _requestValue(r), Math.Rounding.Ceil);
            _claim(r, controller, receiver, assets, shares);
        }
    }

    /// @inheritdoc IInsurancePool
    function setOperator(address operator, bool approved) external returns (bool) {
        _operators[msg.sender][operator] = approved;
        emit OperatorSet(msg.sender, operator, approved);
        return true;
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IInsurancePool
    function setMaxUtilisation(uint16 maxUtilisationBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _accrue();
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

    /// @inheritdoc IInsurancePool
    function setWithdrawalCooldown(uint32 cooldown) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setWithdrawalCooldown(cooldown);
    }

    /// @inheritdoc IInsurancePool
    function sweepSurplus() external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint256 amount) {
        _accrue();
        IERC20 token = IERC20(asset());
        uint256 books = uint256(_ledger.capital) + _liabilities.unearned;
        uint256 balance = token.balanceOf(address(this));
        // Cannot underflow: checked in the condition.
        unchecked {
            amount = balance > books ? balance - books : 0;
        }
        address to = _treasury;
        emit SurplusSwept(to, amount);
        if (amount != 0) token.safeTransfer(to, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IERC4626
    /// @dev LP equity: `capital - reserved`, with premiums earned up to this block.
    function totalAssets() public view override(IERC4626, ERC4626) returns (uint256) {
        (Ledger memory ledger,) = _current();
        uint256 reserved = _liabilities.reserved;
        return ledger.capital > reserved ? ledger.capital - reserved : 0;
    }

    /// @inheritdoc IERC4626
    /// @dev Bounded by the ledger's 112-bit width.
    function maxDeposit(address) public view override(IERC4626, ERC4626) returns (uint256) {
        (Ledger memory ledger,) = _current();
        return type(uint112).max - ledger.capital;
    }

    /// @inheritdoc IERC4626
    function maxMint(address receiver) public view override(IERC4626, ERC4626) returns (uint256) {
        return _convertToShares(maxDeposit(receiver), Math.Rounding.Floor);
    }

    /// @inheritdoc IERC4626
    /// @dev What `controller`'s claimable request pays now: its value (the lower of now and at request) within free
    /// capital; zero while it is pending.
    function maxWithdraw(address controller) public view override(IERC4626, ERC4626) returns (uint256) {
        Request storage r = _requests[controller];
        if (!_claimable(r)) return 0;
        return Math.min(_requestValue(r), freeAssets());
    }

    /// @inheritdoc IERC4626
    /// @dev The claimable shares of `controller` whose pay fits in free capital; zero while pending.
    function maxRedeem(address controller) public view override(IERC4626, ERC4626) returns (uint256) {
        Request storage r = _requests[controller];
        if (!_claimable(r)) return 0;
        uint256 value = _requestValue(r);
        uint256 free = freeAssets();
        return value <= free ? r.shares : Math.mulDiv(free, r.shares, value);
    }

    /// @inheritdoc IERC4626
    /// @dev ERC-7540: always reverts with {PoolAsyncRedemption}.
    function previewRedeem(uint256) public pure override(IERC4626, ERC4626) returns (uint256) {
        revert PoolAsyncRedemption();
    }

    /// @inheritdoc IERC4626
    /// @dev ERC-7540: always reverts with {PoolAsyncRedemption}.
    function previewWithdraw(uint256) public pure override(IERC4626, ERC4626) returns (uint256) {
        revert PoolAsyncRedemption();
    }

    /// @inheritdoc IInsurancePool
    function pendingRedeemRequest(uint256, address controller) external view returns (uint256) {
        Request storage r = _requests[controller];
        return _claimable(r) ? 0 : r.shares;
    }

    /// @inheritdoc IInsurancePool
    function claimableRedeemRequest(uint256, address controller) external view returns (uint256) {
        Request storage r = _requests[controller];
        return _claimable(r) ? r.shares : 0;
    }

    /// @inheritdoc IInsurancePool
    function redeemRequest(address controller)
        external
        view
        returns (uint256 shares, uint256 assetsAtRequest, uint64 claimableAt)
    {
        Request storage r = _requests[controller];
        return (r.shares, r.assetsAtRequest, r.claimableAt);
    }

    /// @inheritdoc IInsurancePool
    function isOperator(address controller, address operator) external view returns (bool) {
        return _operators[controller][operator];
    }

    /// @inheritdoc IInsurancePool
    function share() external view returns (address) {
        return address(this);
    }

    /// @inheritdoc IInsurancePool
    function withdrawalCooldown() external view returns (uint32) {
        return _liabilities.withdrawalCooldown;
    }

    /// @inheritdoc IInsurancePool
    function unearnedPremiums() external view returns (uint256) {
        (, uint256 unearned) = _current();
        return unearned;
    }

    /// @inheritdoc IInsurancePool
    function reservedPayouts() external view returns (uint256) {
        return _liabilities.reserved;
    }

    /// @inheritdoc IInsurancePool
    function lockedAssets() external view returns (uint256) {
        return _ledger.locked;
    }

    /// @inheritdoc IInsurancePool
    function freeAssets() public view returns (uint256) {
        (Ledger memory ledger,) = _current();
        uint256 needed = Math.mulDiv(ledger.locked, _BPS, ledger.maxUtilisationBps, Math.Rounding.Ceil);
        return ledger.capital > needed ? ledger.capital - needed : 0;
    }

    /// @inheritdoc IInsurancePool
    function lockableAssets() external view returns (uint256) {
        (Ledger memory ledger,) = _current();
        uint256 cap = Math.mulDiv(ledger.capital, ledger.maxUtilisationBps, _BPS);
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

    /// @inheritdoc AccessControl
    /// @dev Also ERC-7540 operator (0xe3bc4e65), asynchronous redemption (0x620ee8e4) and ERC-7575 (0x2f0a18c5).
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == 0xe3bc4e65 || interfaceId == 0x620ee8e4 || interfaceId == 0x2f0a18c5
            || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internal: accrual

    /// @dev Moves what the schedule earned since the last accrual from `unearned` into `capital`. Earning only grows
    /// capital, so the ledger is written without {_commit}'s check.
    function _accrue() private {
        if (_earning.lastAccrual == block.timestamp) return;
        (PremiumEarning.Schedule memory schedule, uint256 earned) = PremiumEarning.accrued(_earning, _buckets);
        _earning = schedule;
        if (earned == 0) return;
        Liabilities memory liabilities = _liabilities;
        // Cannot underflow: the schedule earns exactly what was booked, never more (PremiumEarning).
        uint256 unearned = liabilities.unearned - earned;
        liabilities.unearned = uint112(unearned);
        _liabilities = liabilities;
        _ledger.capital = (uint256(_ledger.capital) + earned).toUint112();
        emit PremiumsEarned(earned, unearned);
    }

    /// @dev The ledger and unearned premium as {_accrue} would leave them in this block.
    function _current() private view returns (Ledger memory ledger, uint256 unearned) {
        ledger = _ledger;
        unearned = _liabilities.unearned;
        if (_earning.lastAccrual != block.timestamp) {
            (, uint256 earned) = PremiumEarning.accrued(_earning, _buckets);
            // Cannot underflow: see {_accrue}; capital + unearned stays what it was.
            unchecked {
                unearned -= earned;
                ledger.capital += uint112(earned);
            }
        }
    }

    /// @dev Books `amount` as unearned, earned linearly from now until `end` rounded up to a whole day.
    function _schedule(uint256 amount, uint256 end) private {
        if (amount == 0) return;
        PremiumEarning.add(_earning, _buckets, amount, end);
        Liabilities memory liabilities = _liabilities;
        liabilities.unearned = (uint256(liabilities.unearned) + amount).toUint112();
        _liabilities = liabilities;
    }

    // ------------------------------------------------------------------ internal: claims contract

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
        if (_reserves[claimId] != 0) _setReserve(claimId, 0);
        if (amount == 0) return;
        Ledger memory ledger = _ledger;
        if (amount > ledger.locked) revert PoolExceedsLocked(amount, ledger.locked);
        // Cannot underflow: amount <= locked, and locked <= capital by I1 (maxUtilisationBps <= 10000).
        unchecked {
            ledger.locked -= uint112(amount);
            ledger.capital -= uint112(amount);
        }
        _commit(ledger);
        emit ClaimPaid(claimId, to, amount);
        IERC20(asset()).safeTransfer(to, amount);
    }

    /// @dev Sets one claim's reserve; all reserves stay within locked capital (I2).
    function _setReserve(uint256 claimId, uint256 amount) private {
        Liabilities memory liabilities = _liabilities;
        // Cannot underflow: a claim's reserve is part of the total.
        uint256 others;
        unchecked {
            others = liabilities.reserved - _reserves[claimId];
        }
        uint256 locked = _ledger.locked;
        if (others + amount > locked) revert PoolExceedsLocked(amount, locked > others ? locked - others : 0);
        _reserves[claimId] = amount;
        // Fits: at most locked, a 112-bit value.
        liabilities.reserved = uint112(others + amount);
        _liabilities = liabilities;
        emit PayoutReserved(claimId, amount, liabilities.reserved);
    }

    function _collectPremium(uint256 policyId, uint256 amount, uint64 start, uint64 end)
        private
        returns (uint256 net, uint256 fee)
    {
        if (start > block.timestamp || end <= block.timestamp) revert PoolInvalidTerm(start, end);
        fee = PremiumMath.fee(amount, _ledger.protocolFeeBps);
        // Cannot underflow: fee <= amount (protocolFeeBps <= 10000).
        unchecked {
            net = amount - fee;
        }
        _schedule(net, end);
        emit PremiumCollected(policyId, net, fee);
        IERC20 token = IERC20(asset());
        token.safeTransferFrom(msg.sender, address(this), amount);
        if (fee != 0) token.safeTransfer(_treasury, fee);
    }

    /// @dev A forfeited deposit is earned over one cooldown, like a premium: it cannot be sandwiched either.
    function _collectForfeit(uint256 claimId, uint256 amount) private {
        _schedule(amount, block.timestamp + _liabilities.withdrawalCooldown);
        emit DepositForfeited(claimId, amount);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), amount);
    }

    // ------------------------------------------------------------------ internal: liquidity providers

    /// @dev ERC-4626 deposit: OpenZeppelin pulls the assets and mints, then the ledger books them.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        super._deposit(caller, receiver, assets, shares);
        Ledger memory ledger = _ledger;
        ledger.capital = (uint256(ledger.capital) + assets).toUint112();
        _commit(ledger);
    }

    function _requestRedeem(uint256 shares, address controller, address owner) private {
        if (shares == 0) revert PoolZeroShares();
        if (msg.sender != owner && !_operators[owner][msg.sender]) _spendAllowance(owner, msg.sender, shares);
        Request storage r = _requests[controller];
        r.shares += shares;
        r.assetsAtRequest = (uint256(r.assetsAtRequest) + _convertToAssets(shares, Math.Rounding.Floor)).toUint112();
        r.claimableAt = uint64(block.timestamp + _liabilities.withdrawalCooldown);
        _transfer(owner, address(this), shares);
        emit RedeemRequest(controller, owner, 0, msg.sender, shares);
    }

    function _cancelRedeemRequest(address controller) private {
        _requireOperator(controller);
        uint256 shares = _requests[controller].shares;
        if (shares == 0) revert PoolNoRequest(controller);
        delete _requests[controller];
        _transfer(address(this), controller, shares);
        emit RedeemRequestCancelled(controller, shares);
    }

    /// @dev Burns `shares` of the request and pays `assets`; the request's value at request shrinks pro rata
    /// (rounded up, so what is left never pays more). The ledger (and so I1) is checked before any transfer.
    function _claim(Request storage r, address controller, address receiver, uint256 assets, uint256 shares) private {
        uint256 requested = r.shares;
        if (shares == requested) {
            delete _requests[controller];
        } else {
            uint256 atRequest = r.assetsAtRequest;
            r.shares = requested - shares;
            r.assetsAtRequest = uint112(atRequest - Math.mulDiv(atRequest, shares, requested, Math.Rounding.Ceil));
        }
        Ledger memory ledger = _ledger;
        ledger.capital = (uint256(ledger.capital) - assets).toUint112();
        _commit(ledger);
        _burn(address(this), shares);
        emit Withdraw(msg.sender, receiver, controller, assets, shares);
        IERC20(asset()).safeTransfer(receiver, assets);
    }

    /// @dev The request is past its cooldown (and exists).
    function _claimable(Request storage r) private view returns (bool) {
        uint256 claimableAt = r.claimableAt;
        return claimableAt != 0 && block.timestamp >= claimableAt;
    }

    /// @dev What the whole request pays: the lower of its value now and at request.
    function _requestValue(Request storage r) private view returns (uint256) {
        return Math.min(_convertToAssets(r.shares, Math.Rounding.Floor), r.assetsAtRequest);
    }

    function _requireOperator(address controller) private view {
        if (msg.sender != controller && !_operators[controller][msg.sender]) {
            revert PoolNotOperator(msg.sender, controller);
        }
    }

    /// @dev Virtual shares: see the contract NatSpec (inflation attack).
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    // ------------------------------------------------------------------ internal: parameters

    /// @dev THE choke point of invariant I1: every ledger write (bar earning, which only grows capital) goes through
    /// here.
    function _commit(Ledger memory ledger) private {
        if (uint256(ledger.locked) * _BPS > uint256(ledger.capital) * ledger.maxUtilisationBps) {
            revert PoolUtilisationExceeded(ledger.locked, ledger.capital, ledger.maxUtilisationBps);
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
        _ledger.protocolFeeBps = bps;
        emit ProtocolFeeSet(bps);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert PoolZeroAddress();
        if (treasury_ == address(this)) revert PoolInvalidTreasury(treasury_);
        _treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    function _setWithdrawalCooldown(uint32 cooldown) private {
        if (cooldown < MIN_WITHDRAWAL_COOLDOWN) revert PoolCooldownTooShort(cooldown, MIN_WITHDRAWAL_COOLDOWN);
        _liabilities.withdrawalCooldown = cooldown;
        emit WithdrawalCooldownSet(cooldown);
    }
}
