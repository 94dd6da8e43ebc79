// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IDataMarketplace
/// @notice Sale of device data (datasets, subscription streams) and AI models for one ERC-20, with the payment held
/// in escrow until the seller delivers the content key encrypted to the buyer's public key (docs/protocol.md). A listing names registered devices of the seller; revoked or transferred devices block new sales.
///
/// Lifecycle of a purchase: `Pending` (paid, in escrow) -> `Delivered` (key recorded on-chain, escrow released to
/// the seller's and treasury's withdrawable balances, access granted) or -> `Refunded` (not delivered by its
/// deadline, or the listing was taken down; the buyer takes the full amount back).
interface IDataMarketplace {
    /// @notice What a listing sells.
    /// @dev `Dataset`: a one-time, perpetual licence to a data file. `Stream`: a subscription, one period per
    /// purchase. `Model`: a one-time, perpetual licence to an AI model's weights.
    enum ListingKind {
        Dataset,
        Stream,
        Model
    }

    /// @notice Lifecycle of a listing. `Closed` (by the seller) and `TakenDown` (by an admin) are final.
    enum ListingStatus {
        None,
        Active,
        Paused,
        Closed,
        TakenDown
    }

    /// @notice Lifecycle of a purchase.
    enum PurchaseStatus {
        None,
        Pending,
        Delivered,
        Refunded
    }

    /// @notice What a seller gives to create a listing.
    /// @param kind What is sold.
    /// @param price Price of one purchase (for a stream: of one period) in token base units.
    /// @param period Subscription period in seconds; non-zero for streams, zero otherwise.
    /// @param deliveryWindow Seconds after a purchase within which the seller must deliver the key.
    /// @param contentHash keccak256 of the plaintext file (dataset or model weights) or of the stream's manifest.
    /// @param termsHash keccak256 of the licence terms document.
    /// @param metadataURI Where the listing's description and the encrypted content can be fetched.
    /// @param devices The seller's registered devices the data comes from.
    /// @param anchors Merkle roots of anchored reading batches of those devices, so buyers can verify readings.
    struct ListingParams {
        ListingKind kind;
        uint128 price;
        uint32 period;
        uint32 deliveryWindow;
        bytes32 contentHash;
        bytes32 termsHash;
        string metadataURI;
        address[] devices;
        bytes32[] anchors;
    }

    /// @notice A listing as stored (the anchors are in {ListingAnchorAdded} events and {listingHasAnchor}).
    /// @param seller The account that listed it; the only one who can manage it and receive its proceeds.
    /// @param kind What is sold.
    /// @param status Current status.
    /// @param period Subscription period in seconds (streams only).
    /// @param deliveryWindow Seconds after a purchase within which the key must be delivered.
    /// @param price Current price of one purchase; purchases store the price they paid.
    /// @param contentHash keccak256 of the plaintext content (or of the stream's manifest).
    /// @param termsHash keccak256 of the licence terms.
    /// @param metadataURI Where the description and encrypted content can be fetched.
    /// @param devices The devices the data comes from.
    struct Listing {
        address seller;
        ListingKind kind;
        ListingStatus status;
        uint32 period;
        uint32 deliveryWindow;
        uint128 price;
        bytes32 contentHash;
        bytes32 termsHash;
        string metadataURI;
        address[] devices;
    }

    /// @notice A purchase as stored (the buyer's public key and the delivered key are in events only).
    /// @param buyer The paying account.
    /// @param status Current status.
    /// @param feeBps The protocol fee in basis points at the time of purchase; applied when the escrow is released.
    /// @param deliverBy Last timestamp at which the key can be delivered; afterwards the buyer can take a refund.
    /// @param listingId The listing bought.
    /// @param amount The amount paid and held in escrow (the listing's price at the time of purchase).
    struct Purchase {
        address buyer;
        PurchaseStatus status;
        uint16 feeBps;
        uint64 deliverBy;
        uint64 listingId;
        uint128 amount;
    }

    /// @notice A buyer's access to a listing.
    /// @param since Start of the current continuous access window (timestamp of the delivery that opened it).
    /// @param expiry End of access, exclusive; `type(uint64).max` for one-time licences (datasets, models).
    /// @param pendingLicence True while a one-time licence purchase of this buyer awaits delivery.
    struct Access {
        uint64 since;
        uint64 expiry;
        bool pendingLicence;
    }

    // ------------------------------------------------------------------ events

    /// @notice A listing was created.
    /// @param listingId The new listing's id.
    /// @param seller The seller.
    /// @param kind What is sold.
    /// @param price Price of one purchase.
    /// @param period Subscription period in seconds (streams only).
    /// @param deliveryWindow Delivery window in seconds.
    /// @param contentHash keccak256 of the plaintext content (or stream manifest).
    /// @param termsHash keccak256 of the licence terms.
    /// @param metadataURI Where the description and encrypted content can be fetched.
    /// @param devices The devices the data comes from.
    event ListingCreated(
        uint256 indexed listingId,
        address indexed seller,
        ListingKind indexed kind,
        uint256 price,
        uint32 period,
        uint32 deliveryWindow,
        bytes32 contentHash,
        bytes32 termsHash,
        string metadataURI,
        address[] devices
    );

    /// @notice An anchored batch was attached to a listing, so buyers can verify its readings.
    /// @param listingId The listing.
    /// @param root The batch's Merkle root in the DeviceRegistry.
    /// @param device The device whose readings the batch holds.
    event ListingAnchorAdded(uint256 indexed listingId, bytes32 indexed root, address indexed device);

    /// @notice The seller changed the price. Existing purchases keep the price they paid.
    /// @param listingId The listing.
    /// @param previousPrice The price before.
    /// @param newPrice The price now.
    event ListingPriceChanged(uint256 indexed listingId, uint256 previousPrice, uint256 newPrice);

    /// @notice A listing's status changed (pause, unpause, close, take-down).
    /// @param listingId The listing.
    /// @param previous The status before.
    /// @param current The status now.
    /// @param by The seller or admin that changed it.
    event ListingStatusChanged(
        uint256 indexed listingId,
        ListingStatus previous,
        ListingStatus current,
        address indexed by
    );

    /// @notice An admin took a listing down (emitted after {ListingStatusChanged}, with the reason).
    /// @param listingId The listing.
    /// @param by The admin.
    /// @param reason Human-readable reason (for example a reference to a legal notice).
    event ListingTakenDown(uint256 indexed listingId, address indexed by, string reason);

    /// @notice A buyer paid for a listing; the amount is held in escrow until delivery or refund.
    /// @param purchaseId The new purchase's id.
    /// @param listingId The listing bought.
    /// @param buyer The buyer.
    /// @param amount The amount paid.
    /// @param feeBps The fee rate that will apply when the escrow is released.
    /// @param deliverBy Last timestamp at which the key can be delivered.
    /// @param buyerPublicKey The buyer's secp256k1 public key (33 bytes compressed or 65 uncompressed) to which the
    /// seller encrypts the content key.
    event Purchased(
        uint256 indexed purchaseId,
        uint256 indexed listingId,
        address indexed buyer,
        uint256 amount,
        uint16 feeBps,
        uint64 deliverBy,
        bytes buyerPublicKey
    );

    /// @notice The seller (or its agent) delivered the content key, releasing the escrow.
    /// @param purchaseId The purchase.
    /// @param listingId The listing.
    /// @param buyer The buyer.
    /// @param by The seller or agent that delivered.
    /// @param encryptedKey The content key encrypted to the buyer's public key (ECIES, see docs/market.md).
    /// @param sellerProceeds The amount credited to the seller's withdrawable balance.
    /// @param fee The amount credited to the treasury's withdrawable balance.
    /// @param accessExpiry The buyer's access expiry after this delivery.
    event KeyDelivered(
        uint256 indexed purchaseId,
        uint256 indexed listingId,
        address indexed buyer,
        address by,
        bytes encryptedKey,
        uint256 sellerProceeds,
        uint256 fee,
        uint64 accessExpiry
    );

    /// @notice A buyer took back the escrowed amount of an undelivered purchase.
    /// @param purchaseId The purchase.
    /// @param listingId The listing.
    /// @param buyer The buyer (who received the amount).
    /// @param amount The amount refunded.
    event Refunded(uint256 indexed purchaseId, uint256 indexed listingId, address indexed buyer, uint256 amount);

    /// @notice An account withdrew its balance (seller proceeds or treasury fees).
    /// @param account The account whose balance was withdrawn.
    /// @param to The recipient.
    /// @param amount The amount.
    event Withdrawn(address indexed account, address indexed to, uint256 amount);

    /// @notice A seller authorised or de-authorised an agent to deliver keys for all its listings.
    /// @param seller The seller.
    /// @param agent The agent.
    /// @param authorised Whether the agent may now deliver.
    event AgentSet(address indexed seller, address indexed agent, bool authorised);

    /// @notice The protocol fee changed. Applies to purchases made from now on.
    /// @param previousBps The fee before, in basis points.
    /// @param newBps The fee now, in basis points.
    /// @param by The fee manager.
    event FeeChanged(uint16 previousBps, uint16 newBps, address indexed by);

    /// @notice The treasury changed. Fees already accrued stay withdrawable by the previous treasury.
    /// @param previousTreasury The treasury before.
    /// @param newTreasury The treasury now.
    event TreasuryChanged(address indexed previousTreasury, address indexed newTreasury);

    /// @notice Tokens held above what the marketplace owes (sent to it directly) were sent to the treasury.
    /// @param treasury The receiver (the current treasury, paid directly, not credited to its balance).
    /// @param amount The surplus (zero when there was none).
    event SurplusSwept(address indexed treasury, uint256 amount);

    // ------------------------------------------------------------------ errors

    /// @notice The zero address cannot be the registry, token, admin, treasury, agent or recipient.
    error MarketZeroAddress();

    /// @notice The fee cap given at construction exceeds 100 %.
    /// @param maxFeeBps The cap given.
    /// @param limit 10 000 basis points.
    error MarketFeeCapTooHigh(uint16 maxFeeBps, uint16 limit);

    /// @notice The fee exceeds the cap set at construction.
    /// @param feeBps The fee given.
    /// @param maxFeeBps The cap.
    error MarketFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);

    /// @notice No listing has this id.
    /// @param listingId The id.
    error MarketListingNotFound(uint256 listingId);

    /// @notice Only the listing's seller may do this.
    /// @param listingId The listing.
    /// @param caller The caller.
    error MarketNotSeller(uint256 listingId, address caller);

    /// @notice Only the seller or an agent it authorised may deliver.
    /// @param purchaseId The purchase.
    /// @param caller The caller.
    error MarketNotSellerOrAgent(uint256 purchaseId, address caller);

    /// @notice The listing cannot go from its current status to the requested one.
    /// @param listingId The listing.
    /// @param current The current status.
    /// @param requested The requested status.
    error MarketInvalidStatusTransition(uint256 listingId, ListingStatus current, ListingStatus requested);

    /// @notice The listing's status does not allow this: a purchase needs Active; a price or anchor change needs
    /// Active or Paused.
    /// @param listingId The listing.
    /// @param status Its status.
    error MarketListingNotActive(uint256 listingId, ListingStatus status);

    /// @notice The listing was taken down: its keys can no longer be delivered.
    /// @param listingId The listing.
    error MarketListingTakenDown(uint256 listingId);

    /// @notice A listing must name at least one device.
    error MarketNoDevices();

    /// @notice A listing names more devices than allowed (bounds the gas of every purchase).
    /// @param count The number given.
    /// @param max The maximum.
    error MarketTooManyDevices(uint256 count, uint256 max);

    /// @notice Too many anchors in one call (bounds the gas of a call).
    /// @param count The number given.
    /// @param max The maximum.
    error MarketTooManyAnchors(uint256 count, uint256 max);

    /// @notice A device is named twice.
    /// @param device The device.
    error MarketDuplicateDevice(address device);

    /// @notice The device is not registered to the seller (unregistered devices have owner zero).
    /// @param device The device.
    /// @param seller The seller.
    /// @param owner Its owner in the DeviceRegistry.
    error MarketDeviceNotOwned(address device, address seller, address owner);

    /// @notice The device was revoked in the DeviceRegistry (its key is compromised): no new sales.
    /// @param device The device.
    error MarketDeviceRevoked(address device);

    /// @notice None of the listing's devices anchored the root in the DeviceRegistry (anchors are per device: a
    /// root anchored by another device does not count).
    /// @param listingId The listing.
    /// @param root The root.
    error MarketAnchorNotForListing(uint256 listingId, bytes32 root);

    /// @notice The root is already attached to the listing.
    /// @param listingId The listing.
    /// @param root The root.
    error MarketAnchorAlreadyAdded(uint256 listingId, bytes32 root);

    /// @notice The price must be non-zero.
    error MarketZeroPrice();

    /// @notice The listing's price is above what the buyer agreed to pay (for example after a price change).
    /// @param listingId The listing.
    /// @param price The current price.
    /// @param maxPrice The buyer's limit.
    error MarketPriceAboveMax(uint256 listingId, uint256 price, uint256 maxPrice);

    /// @notice Streams need a non-zero period; datasets and models must have period zero.
    /// @param kind The listing kind.
    /// @param period The period given.
    error MarketInvalidPeriod(ListingKind kind, uint32 period);

    /// @notice The delivery window must be non-zero and at most the maximum.
    /// @param deliveryWindow The window given.
    /// @param max The maximum.
    error MarketInvalidDeliveryWindow(uint32 deliveryWindow, uint32 max);

    /// @notice The content hash and the licence-terms hash must be non-zero.
    error MarketZeroHash();

    /// @notice The buyer's public key is not a secp256k1 key: 33 bytes starting 0x02/0x03 or 65 starting 0x04.
    /// @param length The length given.
    /// @param prefix Its first byte (zero when empty).
    error MarketInvalidPublicKey(uint256 length, bytes1 prefix);

    /// @notice The buyer already holds, or awaits delivery of, this one-time licence.
    /// @param listingId The listing.
    /// @param buyer The buyer.
    error MarketAlreadyLicensed(uint256 listingId, address buyer);

    /// @notice The purchase is not Pending (unknown, already delivered or already refunded).
    /// @param purchaseId The purchase.
    /// @param status Its status.
    error MarketPurchaseNotPending(uint256 purchaseId, PurchaseStatus status);

    /// @notice Only the buyer may take the refund.
    /// @param purchaseId The purchase.
    /// @param caller The caller.
    error MarketNotBuyer(uint256 purchaseId, address caller);

    /// @notice The delivery deadline has passed; the buyer can now take a refund instead.
    /// @param purchaseId The purchase.
    /// @param deliverBy The deadline.
    /// @param nowTimestamp The current block timestamp.
    error MarketDeliveryDeadlinePassed(uint256 purchaseId, uint64 deliverBy, uint256 nowTimestamp);

    /// @notice A refund is only possible after the delivery deadline, or at once when the listing was taken down.
    /// @param purchaseId The purchase.
    /// @param deliverBy The deadline.
    /// @param nowTimestamp The current block timestamp.
    error MarketRefundNotAvailable(uint256 purchaseId, uint64 deliverBy, uint256 nowTimestamp);

    /// @notice The encrypted key must not be empty.
    /// @param purchaseId The purchase.
    error MarketEmptyEncryptedKey(uint256 purchaseId);

    /// @notice The account has no balance to withdraw.
    /// @param account The account.
    error MarketNothingToWithdraw(address account);

    // ------------------------------------------------------------------ views

    /// @notice The listing `listingId` (all zero when none).
    /// @param listingId The listing.
    /// @return The listing.
    function getListing(uint256 listingId) external view returns (Listing memory);

    /// @notice The purchase `purchaseId` (all zero when none).
    /// @param purchaseId The purchase.
    /// @return The purchase.
    function getPurchase(uint256 purchaseId) external view returns (Purchase memory);

    /// @notice The access record of `buyer` to `listingId`.
    /// @param listingId The listing.
    /// @param buyer The buyer.
    /// @return The access record.
    function accessOf(uint256 listingId, address buyer) external view returns (Access memory);

    /// @notice Whether `buyer` may use `listingId`'s content at `timestamp`: true when `timestamp` lies in the
    /// buyer's current access window `[since, expiry)` and the listing was not taken down.
    /// @dev Access starts on delivery. Only the current continuous window is kept: a timestamp inside an earlier
    /// window that lapsed before a renewal answers false.
    /// @param listingId The listing.
    /// @param buyer The buyer.
    /// @param timestamp The time asked about (unix seconds).
    /// @return True when the buyer has access then.
    function hasAccess(uint256 listingId, address buyer, uint256 timestamp) external view returns (bool);

    /// @notice Whether `root` is attached to `listingId`.
    /// @param listingId The listing.
    /// @param root A Merkle root anchored in the DeviceRegistry.
    /// @return True when attached.
    function listingHasAnchor(uint256 listingId, bytes32 root) external view returns (bool);

    /// @notice The balance `account` can withdraw (seller proceeds or treasury fees).
    /// @param account The account.
    /// @return The balance in token base units.
    function withdrawable(address account) external view returns (uint256);

    /// @notice What the marketplace owes: the escrow of Pending purchases plus every withdrawable balance (seller
    /// proceeds and treasury fees). Its token balance is at least this; anything above is surplus.
    /// @return The total in token base units.
    function owed() external view returns (uint256);

    /// @notice Whether `agent` may deliver keys for `seller`'s listings.
    /// @param seller The seller.
    /// @param agent The agent.
    /// @return True when authorised.
    function isAgent(address seller, address agent) external view returns (bool);
}
