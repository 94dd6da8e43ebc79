// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IDataMarketplace} from "../interfaces/IDataMarketplace.sol";

/// @title DataMarketplace
/// @notice Sells device datasets, data streams and AI models for one ERC-20 with escrowed key delivery
/// (docs/protocol.md §10, §12; docs/market.md).
///
/// - A seller lists content it encrypted with a symmetric content key, naming the registered devices (it must own
///   them) the data comes from and, optionally, anchored batches of their readings so buyers can verify them.
/// - A buyer pays the listing's current price into escrow and gives a secp256k1 public key. The seller, or an agent
///   it authorised, delivers the content key encrypted to that key; the ciphertext is recorded in the
///   {KeyDelivered} event and the escrow is released to the seller's and treasury's withdrawable balances (pull).
///   Undelivered by the deadline, or the listing taken down: the buyer takes a full refund.
/// - Access is granted on delivery, never at purchase, so a refunded (undelivered) purchase leaves no access behind.
///   Every stream period is a purchase of its own with its own escrow and delivery (the seller may rotate the key
///   each period or deliver the same key again); delivery extends the subscription by one period from the later
///   of now and the current expiry.
///
/// Invariant: `token.balanceOf(this) >= _owed == sum(amount of Pending purchases) + sum(_balances)`. Tokens enter
/// only in {_purchase}, which adds them to `_owed`; escrow leaves only in {_deliver} (into `_balances`, so `_owed`
/// does not change) or {_refund}; balances leave only in {_withdraw}; {_refund} and {_withdraw} pay through {_pay},
/// the one place `_owed` decreases. Tokens above `_owed` were sent directly and are surplus, which
/// {sweepSurplus} sends to the treasury (audit I-6).
///
/// WARNING: the token must be a plain ERC-20 (no fee on transfer, no rebasing): escrow accounting assumes the
/// amount transferred is the amount received. The contract cannot check that a delivered key is correct; the
/// buyer must verify the decrypted content against `contentHash`, and disputes are not arbitrated on-chain.
contract DataMarketplace is IDataMarketplace, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Role that may take listings down (illegal content, incident response).
    bytes32 public constant MARKET_ADMIN_ROLE = keccak256("MARKET_ADMIN_ROLE");

    /// @notice Role that may change the protocol fee (within the cap set at construction).
    bytes32 public constant FEE_MANAGER_ROLE = keccak256("FEE_MANAGER_ROLE");

    /// @notice 100 % in basis points.
    uint16 public constant BPS = 10_000;

    /// @notice Most devices a listing may name: every purchase checks each of them in the DeviceRegistry.
    uint256 public constant MAX_DEVICES = 16;

    /// @notice Most anchors one call may attach.
    uint256 public constant MAX_ANCHORS_PER_CALL = 32;

    /// @notice Longest delivery window a listing may set, bounding how long a buyer's payment can be held.
    uint32 public constant MAX_DELIVERY_WINDOW = 30 days;

    /// @notice The DeviceRegistry whose devices and anchors listings refer to.
    IDeviceRegistry public immutable REGISTRY;

    /// @notice The ERC-20 of prices, escrow, proceeds and fees.
    IERC20 public immutable TOKEN;

    /// @notice The highest fee the fee manager may set, in basis points (fixed at construction).
    uint16 public immutable MAX_FEE_BPS;

    address private _treasury;
    uint16 private _feeBps;
    uint256 private _listingCount;
    // One slot: a purchase writes both.
    uint64 private _purchaseCount;
    uint192 private _owed;

    mapping(uint256 listingId => Listing) private _listings;
    mapping(uint256 purchaseId => Purchase) private _purchases;
    mapping(uint256 listingId => mapping(address buyer => Access)) private _access;
    mapping(uint256 listingId => mapping(bytes32 root => bool)) private _listingAnchors;
    mapping(address account => uint256) private _balances;
    mapping(address seller => mapping(address agent => bool)) private _agents;

    /// @param registry_ The DeviceRegistry.
    /// @param token_ The payment token.
    /// @param admin Receives DEFAULT_ADMIN_ROLE, MARKET_ADMIN_ROLE and FEE_MANAGER_ROLE.
    /// @param treasury_ Receives protocol fees (as a withdrawable balance).
    /// @param feeBps_ The initial protocol fee in basis points.
    /// @param maxFeeBps_ The cap on the fee for the life of the deployment (at most 10 000).
    constructor(
        IDeviceRegistry registry_,
        IERC20 token_,
        address admin,
        address treasury_,
        uint16 feeBps_,
        uint16 maxFeeBps_
    ) {
        if (
            address(registry_) == address(0) || address(token_) == address(0) || admin == address(0)
                || treasury_ == address(0)
        ) revert MarketZeroAddress();
        if (maxFeeBps_ > BPS) revert MarketFeeCapTooHigh(maxFeeBps_, BPS);
        if (feeBps_ > maxFeeBps_) revert MarketFeeTooHigh(feeBps_, maxFeeBps_);
        REGISTRY = registry_;
        TOKEN = token_;
        MAX_FEE_BPS = maxFeeBps_;
        _treasury = treasury_;
        _feeBps = feeBps_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MARKET_ADMIN_ROLE, admin);
        _grantRole(FEE_MANAGER_ROLE, admin);
        emit TreasuryChanged(address(0), treasury_);
        emit FeeChanged(0, feeBps_, msg.sender);
    }

    // ------------------------------------------------------------------ seller: listings

    /// @notice Lists content for sale. The caller becomes the seller.
    /// @dev Requirements: non-zero price and hashes; period non-zero exactly for streams; delivery window in
    /// `[1, MAX_DELIVERY_WINDOW]`; 1 to MAX_DEVICES distinct devices, each registered to the caller and not
    /// revoked; each anchor anchored in the registry for one of those devices, at most MAX_ANCHORS_PER_CALL.
    /// Emits {ListingCreated} and one {ListingAnchorAdded} per anchor.
    /// @param params The listing.
    /// @return listingId The new listing's id (ids start at 1).
    function createListing(ListingParams calldata params) external returns (uint256 listingId) {
        return _createListing(msg.sender, params);
    }

    /// @notice Attaches more anchored batches to a listing (for example a stream's newest data).
    /// @dev Requirements: caller is the seller; listing not closed or taken down; each root anchored for one of the
    /// listing's devices and not yet attached; at most MAX_ANCHORS_PER_CALL. Emits {ListingAnchorAdded} per root.
    /// @param listingId The listing.
    /// @param roots The Merkle roots.
    function addAnchors(uint256 listingId, bytes32[] calldata roots) external {
        Listing storage listing = _sellerListing(listingId);
        _requireNotEnded(listingId, listing);
        _addAnchors(listingId, listing.devices, roots);
    }

    /// @notice Changes the price of future purchases; purchases already made keep the amount they paid.
    /// @dev Requirements: caller is the seller; listing Active or Paused; price non-zero. Emits {ListingPriceChanged}.
    /// @param listingId The listing.
    /// @param newPrice The new price in token base units.
    function setPrice(uint256 listingId, uint128 newPrice) external {
        Listing storage listing = _sellerListing(listingId);
        _setPrice(listingId, listing, newPrice);
    }

    /// @notice Stops new purchases until {unpauseListing}. Pending purchases can still be delivered or refunded,
    /// and buyers keep their access.
    /// @dev Requirements: caller is the seller; listing Active. Emits {ListingStatusChanged}.
    /// @param listingId The listing.
    function pauseListing(uint256 listingId) external {
        _setStatus(listingId, _sellerListing(listingId), ListingStatus.Paused);
    }

    /// @notice Re-opens a paused listing to purchases.
    /// @dev Requirements: caller is the seller; listing Paused. Emits {ListingStatusChanged}.
    /// @param listingId The listing.
    function unpauseListing(uint256 listingId) external {
        _setStatus(listingId, _sellerListing(listingId), ListingStatus.Active);
    }

    /// @notice Stops sales for good. Pending purchases can still be delivered or refunded; buyers keep access.
    /// @dev Requirements: caller is the seller; listing Active or Paused. Emits {ListingStatusChanged}.
    /// @param listingId The listing.
    function closeListing(uint256 listingId) external {
        _setStatus(listingId, _sellerListing(listingId), ListingStatus.Closed);
    }

    /// @notice Authorises (or de-authorises) `agent` to deliver keys for every listing of the caller. An agent can
    /// only deliver: it cannot change listings or withdraw.
    /// @dev Requirements: agent non-zero. Emits {AgentSet}.
    /// @param agent The agent (for example the seller's key-delivery daemon).
    /// @param authorised Whether it may deliver.
    function setAgent(address agent, bool authorised) external {
        if (agent == address(0)) revert MarketZeroAddress();
        _agents[msg.sender][agent] = authorised;
        emit AgentSet(msg.sender, agent, authorised);
    }

    // ------------------------------------------------------------------ buyer

    /// @notice Buys one licence (for a stream: one period) of `listingId` at its current price, which is held in
    /// escrow until the key is delivered or the purchase refunded. Needs the token allowance.
    /// @dev Requirements: listing Active; price <= `maxPrice`; `buyerPublicKey` is 33 bytes starting 0x02/0x03 or
    /// 65 bytes starting 0x04; every listed device still registered to the seller and not revoked; for datasets
    /// and models, the buyer holds no licence and no pending purchase of it. Emits {Purchased}.
    ///
    /// WARNING: `buyerPublicKey` is checked for shape only. Use a dedicated encryption key: the content key is
    /// readable by whoever holds its private key.
    /// @param listingId The listing.
    /// @param maxPrice The most the buyer agrees to pay (protects against a price change front-running the buy).
    /// @param buyerPublicKey The secp256k1 public key the content key is to be encrypted to.
    /// @return purchaseId The new purchase's id (ids start at 1).
    function purchase(uint256 listingId, uint256 maxPrice, bytes calldata buyerPublicKey)
        external
        nonReentrant
        returns (uint256 purchaseId)
    {
        return _purchase(msg.sender, listingId, maxPrice, buyerPublicKey);
    }

    /// @notice Takes back the full amount of an undelivered purchase: after its delivery deadline, or at once when
    /// the listing was taken down. The amount goes to the buyer.
    /// @dev Requirements: purchase Pending; caller is its buyer; deadline passed or listing taken down.
    /// Emits {Refunded}.
    /// @param purchaseId The purchase.
    function refund(uint256 purchaseId) external nonReentrant {
        Purchase storage p = _pendingPurchase(purchaseId);
        if (msg.sender != p.buyer) revert MarketNotBuyer(purchaseId, msg.sender);
        _refund(purchaseId, p);
    }

    // ------------------------------------------------------------------ seller: delivery and proceeds

    /// @notice Delivers the content key of a purchase, encrypted to the buyer's public key, and releases the escrow:
    /// the amount minus the fee (at the rate of the purchase time) to the seller's withdrawable balance, the fee to
    /// the treasury's. Grants access from now (streams: extends it by one period from the later of now and the
    /// current expiry). Works on paused and closed listings too.
    /// @dev Requirements: caller is the seller or its agent; purchase Pending; deadline not passed; listing not taken
    /// down; key non-empty. Emits {KeyDelivered}.
    ///
    /// WARNING: the contract cannot check the ciphertext. A wrong key still releases the escrow; the buyer's
    /// recourse is off-chain. Buyers must check that the key decrypts content matching `contentHash`.
    /// @param purchaseId The purchase.
    /// @param encryptedKey The content key encrypted to the buyer's key (ECIES; docs/market.md, Key delivery).
    function deliver(uint256 purchaseId, bytes calldata encryptedKey) external nonReentrant {
        Purchase storage p = _pendingPurchase(purchaseId);
        Listing storage listing = _listings[p.listingId];
        address seller = listing.seller;
        if (msg.sender != seller && !_agents[seller][msg.sender]) revert MarketNotSellerOrAgent(purchaseId, msg.sender);
        _deliver(purchaseId, p, listing, encryptedKey);
    }

    /// @notice Withdraws the caller's whole balance (seller proceeds or treasury fees) to `to`.
    /// @dev Requirements: `to` non-zero; balance non-zero. Emits {Withdrawn}.
    /// @param to The recipient.
    /// @return amount The amount withdrawn.
    function withdraw(address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert MarketZeroAddress();
        return _withdraw(msg.sender, to);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Takes a listing down (for example illegal content): no more purchases or deliveries, pending
    /// purchases become refundable at once, and {hasAccess} answers false for it.
    /// @dev Requirements: MARKET_ADMIN_ROLE; listing not already taken down. Emits {ListingStatusChanged} and
    /// {ListingTakenDown}.
    ///
    /// WARNING: proceeds of purchases delivered before the take-down stay with the seller; they are not clawed back.
    /// @param listingId The listing.
    /// @param reason Human-readable reason, recorded in the event.
    function takeDown(uint256 listingId, string calldata reason) external onlyRole(MARKET_ADMIN_ROLE) {
        _setStatus(listingId, _existingListing(listingId), ListingStatus.TakenDown);
        emit ListingTakenDown(listingId, msg.sender, reason);
    }

    /// @notice Sets the protocol fee of future purchases (pending purchases keep the rate they were made at).
    /// @dev Requirements: FEE_MANAGER_ROLE; `newBps <= MAX_FEE_BPS`. Emits {FeeChanged}.
    /// @param newBps The fee in basis points.
    function setFee(uint16 newBps) external onlyRole(FEE_MANAGER_ROLE) {
        _setFee(newBps);
    }

    /// @notice Sets where future fees accrue. Fees already accrued stay withdrawable by the previous treasury.
    /// @dev Requirements: DEFAULT_ADMIN_ROLE; non-zero. Emits {TreasuryChanged}.
    /// @param newTreasury The new treasury.
    function setTreasury(address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newTreasury == address(0)) revert MarketZeroAddress();
        address previous = _treasury;
        _treasury = newTreasury;
        emit TreasuryChanged(previous, newTreasury);
    }

    /// @notice Sends the tokens held above {owed} (sent to the marketplace directly, audit I-6) to the treasury.
    /// Escrow and withdrawable balances are never touched. With no surplus it sends nothing and returns 0, as the
    /// pool's `sweepSurplus` does, so a keeper may call it on a schedule.
    /// @dev Requirements: DEFAULT_ADMIN_ROLE. Emits {SurplusSwept}.
    /// @return amount The surplus swept.
    function sweepSurplus() external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant returns (uint256 amount) {
        return _sweepSurplus();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IDataMarketplace
    function getListing(uint256 listingId) external view returns (Listing memory) {
        return _listings[listingId];
    }

    /// @inheritdoc IDataMarketplace
    function getPurchase(uint256 purchaseId) external view returns (Purchase memory) {
        return _purchases[purchaseId];
    }

    /// @inheritdoc IDataMarketplace
    function accessOf(uint256 listingId, address buyer) external view returns (Access memory) {
        return _access[listingId][buyer];
    }

    /// @inheritdoc IDataMarketplace
    function hasAccess(uint256 listingId, address buyer, uint256 timestamp) external view returns (bool) {
        if (_listings[listingId].status == ListingStatus.TakenDown) return false;
        Access storage a = _access[listingId][buyer];
        return timestamp >= a.since && timestamp < a.expiry;
    }

    /// @inheritdoc IDataMarketplace
    function listingHasAnchor(uint256 listingId, bytes32 root) external view returns (bool) {
        return _listingAnchors[listingId][root];
    }

    /// @inheritdoc IDataMarketplace
    function withdrawable(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IDataMarketplace
    function owed() external view returns (uint256) {
        return _owed;
    }

    /// @inheritdoc IDataMarketplace
    function isAgent(address seller, address agent) external view returns (bool) {
        return _agents[seller][agent];
    }

    /// @notice The protocol fee of new purchases, in basis points.
    /// @return The fee.
    function feeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @notice Where fees accrue.
    /// @return The treasury.
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @notice Number of listings created (the highest listing id).
    /// @return The count.
    function listingCount() external view returns (uint256) {
        return _listingCount;
    }

    /// @notice Number of purchases made (the highest purchase id).
    /// @return The count.
    function purchaseCount() external view returns (uint256) {
        return _purchaseCount;
    }

    // ------------------------------------------------------------------ internal: listings

    function _createListing(address seller, ListingParams calldata params) private returns (uint256 listingId) {
        if (params.price == 0) revert MarketZeroPrice();
        if ((params.kind == ListingKind.Stream) != (params.period != 0)) {
            revert MarketInvalidPeriod(params.kind, params.period);
        }
        if (params.deliveryWindow == 0 || params.deliveryWindow > MAX_DELIVERY_WINDOW) {
            revert MarketInvalidDeliveryWindow(params.deliveryWindow, MAX_DELIVERY_WINDOW);
        }
        if (params.contentHash == bytes32(0) || params.termsHash == bytes32(0)) revert MarketZeroHash();
        address[] calldata devices = params.devices;
        uint256 count = devices.length;
        if (count == 0) revert MarketNoDevices();
        if (count > MAX_DEVICES) revert MarketTooManyDevices(count, MAX_DEVICES);
        for (uint256 i = 0; i < count; ++i) {
            for (uint256 j = 0; j < i; ++j) {
                if (devices[j] == devices[i]) revert MarketDuplicateDevice(devices[i]);
            }
            _requireUsableDevice(seller, devices[i]);
        }

        listingId = ++_listingCount;
        Listing storage listing = _listings[listingId];
        listing.seller = seller;
        listing.kind = params.kind;
        listing.status = ListingStatus.Active;
        listing.period = params.period;
        listing.deliveryWindow = params.deliveryWindow;
        listing.price = params.price;
        listing.contentHash = params.contentHash;
        listing.termsHash = params.termsHash;
        listing.metadataURI = params.metadataURI;
        listing.devices = devices;
        emit ListingCreated(
            listingId,
            seller,
            params.kind,
            params.price,
            params.period,
            params.deliveryWindow,
            params.contentHash,
            params.termsHash,
            params.metadataURI,
            devices
        );
        _addAnchors(listingId, devices, params.anchors);
    }

    /// @dev Attaches roots after checking each is anchored by one of `devices` (anchors are keyed by device and
    /// root, so the first listing device that anchored the root is the one named in {ListingAnchorAdded}).
    function _addAnchors(uint256 listingId, address[] memory devices, bytes32[] calldata roots) private {
        uint256 count = roots.length;
        if (count > MAX_ANCHORS_PER_CALL) revert MarketTooManyAnchors(count, MAX_ANCHORS_PER_CALL);
        for (uint256 i = 0; i < count; ++i) {
            bytes32 root = roots[i];
            address device = _anchoringDevice(devices, root);
            if (device == address(0)) revert MarketAnchorNotForListing(listingId, root);
            if (_listingAnchors[listingId][root]) revert MarketAnchorAlreadyAdded(listingId, root);
            _listingAnchors[listingId][root] = true;
            emit ListingAnchorAdded(listingId, root, device);
        }
    }

    /// @dev The first of `devices` (at most MAX_DEVICES) that anchored `root` in the registry; zero when none did.
    function _anchoringDevice(address[] memory devices, bytes32 root) private view returns (address) {
        uint256 n = devices.length;
        for (uint256 j = 0; j < n; ++j) {
            if (REGISTRY.anchorOf(devices[j], root).anchoredAt != 0) return devices[j];
        }
        return address(0);
    }

    function _setPrice(uint256 listingId, Listing storage listing, uint128 newPrice) private {
        _requireNotEnded(listingId, listing);
        if (newPrice == 0) revert MarketZeroPrice();
        uint128 previous = listing.price;
        listing.price = newPrice;
        emit ListingPriceChanged(listingId, previous, newPrice);
    }

    /// @dev The one place listing statuses change. Allowed: Active <-> Paused, Active | Paused -> Closed,
    /// Active | Paused | Closed -> TakenDown.
    function _setStatus(uint256 listingId, Listing storage listing, ListingStatus next) private {
        ListingStatus current = listing.status;
        bool allowed;
        if (next == ListingStatus.Paused) {
            allowed = current == ListingStatus.Active;
        } else if (next == ListingStatus.Active) {
            allowed = current == ListingStatus.Paused;
        } else if (next == ListingStatus.Closed) {
            allowed = current == ListingStatus.Active || current == ListingStatus.Paused;
        } else {
            allowed = next == ListingStatus.TakenDown && current != ListingStatus.TakenDown;
        }
        if (!allowed) revert MarketInvalidStatusTransition(listingId, current, next);
        listing.status = next;
        emit ListingStatusChanged(listingId, current, next, msg.sender);
    }

    // ------------------------------------------------------------------ internal: purchases

    function _purchase(address buyer, uint256 listingId, uint256 maxPrice, bytes calldata buyerPublicKey)
        private
        returns (uint256 purchaseId)
    {
        Listing storage listing = _existingListing(listingId);
        uint128 price = _requirePurchasable(listingId, listing, maxPrice);
        _requirePublicKey(buyerPublicKey);
        if (listing.kind != ListingKind.Stream) {
            Access storage access = _access[listingId][buyer];
            if (access.pendingLicence || access.expiry != 0) revert MarketAlreadyLicensed(listingId, buyer);
            access.pendingLicence = true;
        }
        purchaseId = _recordPurchase(buyer, listingId, listing.deliveryWindow, price, buyerPublicKey);
        _owed += price;
        TOKEN.safeTransferFrom(buyer, address(this), price);
    }

    /// @dev Checks status, price and every device (still the seller's, not revoked); returns the price.
    function _requirePurchasable(uint256 listingId, Listing storage listing, uint256 maxPrice)
        private
        view
        returns (uint128 price)
    {
        if (listing.status != ListingStatus.Active) revert MarketListingNotActive(listingId, listing.status);
        price = listing.price;
        if (price > maxPrice) revert MarketPriceAboveMax(listingId, price, maxPrice);
        address seller = listing.seller;
        address[] storage devices = listing.devices;
        uint256 count = devices.length;
        for (uint256 i = 0; i < count; ++i) {
            _requireUsableDevice(seller, devices[i]);
        }
    }

    /// @dev Stores a Pending purchase at the current fee rate and emits {Purchased}.
    function _recordPurchase(
        address buyer,
        uint256 listingId,
        uint32 deliveryWindow,
        uint128 price,
        bytes calldata buyerPublicKey
    ) private returns (uint256 purchaseId) {
        uint16 fee = _feeBps;
        uint64 deliverBy = SafeCast.toUint64(block.timestamp + deliveryWindow);
        purchaseId = ++_purchaseCount;
        _purchases[purchaseId] = Purchase({
            buyer: buyer,
            status: PurchaseStatus.Pending,
            feeBps: fee,
            deliverBy: deliverBy,
            listingId: SafeCast.toUint64(listingId),
            amount: price
        });
        emit Purchased(purchaseId, listingId, buyer, price, fee, deliverBy, buyerPublicKey);
    }

    function _deliver(uint256 purchaseId, Purchase storage p, Listing storage listing, bytes calldata encryptedKey)
        private
    {
        uint256 listingId = p.listingId;
        if (listing.status == ListingStatus.TakenDown) revert MarketListingTakenDown(listingId);
        uint64 deliverBy = p.deliverBy;
        if (block.timestamp > deliverBy) revert MarketDeliveryDeadlinePassed(purchaseId, deliverBy, block.timestamp);
        if (encryptedKey.length == 0) revert MarketEmptyEncryptedKey(purchaseId);

        p.status = PurchaseStatus.Delivered;
        uint256 amount = p.amount;
        uint256 fee = _feeOf(amount, p.feeBps);
        uint256 proceeds;
        // Cannot underflow: _feeOf returns at most `amount`, since feeBps <= MAX_FEE_BPS <= BPS.
        unchecked {
            proceeds = amount - fee;
        }
        _balances[listing.seller] += proceeds;
        if (fee != 0) _balances[_treasury] += fee;
        address buyer = p.buyer;
        uint64 expiry = _grantAccess(listingId, listing, buyer);
        emit KeyDelivered(purchaseId, listingId, buyer, msg.sender, encryptedKey, proceeds, fee, expiry);
    }

    /// @dev Access starts on delivery. Streams extend by one period from the later of now and the current expiry
    /// (a lapsed subscription opens a new window at now); one-time licences never expire.
    function _grantAccess(uint256 listingId, Listing storage listing, address buyer) private returns (uint64 expiry) {
        Access storage access = _access[listingId][buyer];
        uint64 nowTimestamp = uint64(block.timestamp);
        if (listing.kind == ListingKind.Stream) {
            expiry = access.expiry;
            if (expiry <= nowTimestamp) {
                access.since = nowTimestamp;
                expiry = nowTimestamp;
            }
            expiry += listing.period;
            access.expiry = expiry;
        } else {
            expiry = type(uint64).max;
            access.since = nowTimestamp;
            access.expiry = expiry;
            access.pendingLicence = false;
        }
    }

    function _refund(uint256 purchaseId, Purchase storage p) private {
        uint256 listingId = p.listingId;
        Listing storage listing = _listings[listingId];
        uint64 deliverBy = p.deliverBy;
        if (block.timestamp <= deliverBy && listing.status != ListingStatus.TakenDown) {
            revert MarketRefundNotAvailable(purchaseId, deliverBy, block.timestamp);
        }
        p.status = PurchaseStatus.Refunded;
        address buyer = p.buyer;
        if (listing.kind != ListingKind.Stream) _access[listingId][buyer].pendingLicence = false;
        uint256 amount = p.amount;
        emit Refunded(purchaseId, listingId, buyer, amount);
        _pay(buyer, amount);
    }

    function _withdraw(address account, address to) private returns (uint256 amount) {
        amount = _balances[account];
        if (amount == 0) revert MarketNothingToWithdraw(account);
        _balances[account] = 0;
        emit Withdrawn(account, to, amount);
        _pay(to, amount);
    }

    /// @dev THE exit of owed tokens: pays `amount` of what is owed (escrow or a balance) to `to`.
    function _pay(address to, uint256 amount) private {
        _owed -= uint192(amount); // amount <= _owed (invariant), which fits 192 bits
        TOKEN.safeTransfer(to, amount);
    }

    /// @dev Sends `balance - _owed`, if positive, to the treasury.
    function _sweepSurplus() private returns (uint256 amount) {
        uint256 balance = TOKEN.balanceOf(address(this));
        uint256 owedTotal = _owed;
        // Cannot underflow: checked in the condition.
        unchecked {
            amount = balance > owedTotal ? balance - owedTotal : 0;
        }
        address to = _treasury;
        emit SurplusSwept(to, amount);
        if (amount != 0) TOKEN.safeTransfer(to, amount);
    }

    function _setFee(uint16 newBps) private {
        if (newBps > MAX_FEE_BPS) revert MarketFeeTooHigh(newBps, MAX_FEE_BPS);
        uint16 previous = _feeBps;
        _feeBps = newBps;
        emit FeeChanged(previous, newBps, msg.sender);
    }

    // ------------------------------------------------------------------ internal: checks and maths

    function _existingListing(uint256 listingId) private view returns (Listing storage listing) {
        listing = _listings[listingId];
        if (listing.status == ListingStatus.None) revert MarketListingNotFound(listingId);
    }

    function _sellerListing(uint256 listingId) private view returns (Listing storage listing) {
        listing = _existingListing(listingId);
        if (msg.sender != listing.seller) revert MarketNotSeller(listingId, msg.sender);
    }

    function _pendingPurchase(uint256 purchaseId) private view returns (Purchase storage p) {
        p = _purchases[purchaseId];
        if (p.status != PurchaseStatus.Pending) revert MarketPurchaseNotPending(purchaseId, p.status);
    }

    function _requireNotEnded(uint256 listingId, Listing storage listing) private view {
        ListingStatus status = listing.status;
        if (status == ListingStatus.Closed || status == ListingStatus.TakenDown) {
            revert MarketListingNotActive(listingId, status);
        }
    }

    /// @dev A device backs sales while it is registered to the seller and not revoked. A suspended device is
    /// allowed: suspension is reversible and stops new anchors, while revocation marks the key (and so its data)
    /// as compromised.
    function _requireUsableDevice(address seller, address device) private view {
        (address owner, IDeviceRegistry.DeviceStatus status) = REGISTRY.ownerAndStatus(device);
        if (status == IDeviceRegistry.DeviceStatus.Revoked) revert MarketDeviceRevoked(device);
        if (owner != seller) revert MarketDeviceNotOwned(device, seller, owner);
    }

    /// @dev Shape check of a SEC1 secp256k1 public key: compressed (33 bytes, 0x02/0x03) or uncompressed
    /// (65 bytes, 0x04). Whether the point is on the curve is left to the seller's encryption, which fails on it.
    function _requirePublicKey(bytes calldata key) private pure {
        uint256 length = key.length;
        bytes1 prefix = length == 0 ? bytes1(0) : key[0];
        bool valid = (length == 33 && (prefix == 0x02 || prefix == 0x03)) || (length == 65 && prefix == 0x04);
        if (!valid) revert MarketInvalidPublicKey(length, prefix);
    }

    /// @dev Fee rounded down, so rounding never takes from the seller more than the rate.
    function _feeOf(uint256 amount, uint16 bps) private pure returns (uint256) {
        return (amount * bps) / BPS;
    }
}
