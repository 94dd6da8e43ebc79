// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IDeviceRegistry
/// @notice Identity, status and data anchors of IoT devices. A device is the Ethereum address of its own secp256k1
/// key; registering it needs the device key's EIP-712 `DeviceBinding` signature, so nobody can register a key they
/// do not hold. Owners (or gateways they authorise) anchor batches of device-signed readings as Merkle roots, either
/// per device ({anchorBatch}) or, for a gateway's whole fleet, one root per interval ({anchorFleet}); the registry
/// keeps the owner and gateway-authorisation histories that fleet anchors are verified against.
interface IDeviceRegistry {
    /// @notice Lifecycle of a device. `Revoked` is final (the key is considered compromised).
    enum DeviceStatus {
        None,
        Active,
        Suspended,
        Revoked
    }

    /// @notice Everything the registry stores about a device.
    /// @param owner Account that registered (or accepted) the device; it controls status, gateways and anchors.
    /// @param status Current lifecycle status.
    /// @param adminHold True when an admin suspended the device: then only an admin can resume it.
    /// @param nextSeq The lowest reading sequence number the next anchored batch may start at.
    /// @param registeredAt Block timestamp of registration.
    /// @param sensorSchema keccak256 of the sensor schema id string (for example keccak256("ai4i-2020/v1")).
    /// @param metadataHash Hash of the device metadata document (schema, model, firmware) the device signed.
    /// @param metadataURI Where the metadata document can be fetched.
    struct Device {
        address owner;
        DeviceStatus status;
        bool adminHold;
        uint64 nextSeq;
        uint64 registeredAt;
        bytes32 sensorSchema;
        bytes32 metadataHash;
        string metadataURI;
    }

    /// @notice An anchored batch of readings, looked up by (device, Merkle root).
    /// @param device The device whose readings the batch holds (the device asked about; zero when not anchored).
    /// @param anchoredAt Block timestamp of the anchor: every reading in the batch existed by then.
    struct Anchor {
        address device;
        uint64 anchoredAt;
    }

    /// @notice A fleet anchor: one Merkle root over readings of any number of devices, looked up by (gateway, root).
    /// Fits one storage slot.
    /// @param anchoredAt Block timestamp of the anchor (zero when not anchored): every reading under the root existed
    /// by then, and the owners and gateway authorisations at this time decide which devices' readings it covers.
    /// @param count Number of readings (leaves) the gateway declared; informational, not checked on-chain.
    struct FleetAnchor {
        uint64 anchoredAt;
        uint32 count;
    }

    // ------------------------------------------------------------------ events

    /// @notice A device was registered.
    /// @param device The device address (its key's address).
    /// @param owner The registering owner.
    /// @param sensorSchema keccak256 of the sensor schema id.
    /// @param metadataHash Hash of the signed metadata document.
    /// @param metadataURI Location of the metadata document.
    event DeviceRegistered(
        address indexed device,
        address indexed owner,
        bytes32 indexed sensorSchema,
        bytes32 metadataHash,
        string metadataURI
    );

    /// @notice The device signed new metadata (for example after a firmware update).
    /// @param device The device.
    /// @param metadataHash The new metadata hash.
    /// @param metadataURI The new metadata location.
    event DeviceMetadataUpdated(address indexed device, bytes32 metadataHash, string metadataURI);

    /// @notice The device status changed.
    /// @param device The device.
    /// @param previous The status before.
    /// @param current The status now.
    /// @param by The account that changed it (owner or admin).
    event DeviceStatusChanged(address indexed device, DeviceStatus previous, DeviceStatus current, address indexed by);

    /// @notice The owner proposed a new owner (`newOwner == address(0)` cancels a proposal).
    /// @param device The device.
    /// @param owner The current owner.
    /// @param newOwner The proposed owner.
    event DeviceOwnershipTransferStarted(address indexed device, address indexed owner, address indexed newOwner);

    /// @notice The proposed owner accepted the device.
    /// @param device The device.
    /// @param previousOwner The owner before.
    /// @param newOwner The owner now.
    event DeviceOwnershipTransferred(address indexed device, address indexed previousOwner, address indexed newOwner);

    /// @notice An owner authorised or de-authorised a gateway to anchor data for all its devices.
    /// @param owner The device owner.
    /// @param gateway The gateway account.
    /// @param authorised Whether the gateway may now anchor.
    event GatewaySet(address indexed owner, address indexed gateway, bool authorised);

    /// @notice An admin put a hold on a device its owner had already suspended: only an admin can resume it now.
    /// @param device The device.
    /// @param held Whether the device is now under an admin hold.
    /// @param by The admin.
    event DeviceAdminHoldSet(address indexed device, bool held, address indexed by);

    /// @notice A batch of device readings was anchored.
    /// @param device The device whose readings are in the batch.
    /// @param root The StandardMerkleTree root over the readings' EIP-712 digests.
    /// @param fromSeq First reading sequence number in the batch.
    /// @param toSeq Last reading sequence number in the batch.
    /// @param uri Where the batch's readings can be fetched.
    /// @param by The owner or gateway that anchored it.
    event BatchAnchored(
        address indexed device,
        bytes32 indexed root,
        uint64 fromSeq,
        uint64 toSeq,
        string uri,
        address by
    );

    /// @notice A gateway anchored a fleet root: readings of many devices in one tree.
    /// @param gateway The anchoring account (the root's namespace).
    /// @param root The StandardMerkleTree root over the readings' EIP-712 digests.
    /// @param count Number of readings under the root, as declared by the gateway.
    /// @param uri Where the readings (and their proofs) can be fetched.
    event FleetAnchored(address indexed gateway, bytes32 indexed root, uint32 count, string uri);

    // ------------------------------------------------------------------ errors

    /// @notice The device is already registered.
    /// @param device The device.
    error DeviceAlreadyRegistered(address device);

    /// @notice The device is not registered.
    /// @param device The device.
    error DeviceNotRegistered(address device);

    /// @notice The zero address cannot be a device, owner or gateway.
    error DeviceZeroAddress();

    /// @notice The binding signature does not recover to the device.
    /// @param device The device the binding names.
    /// @param recovered The address the signature recovered to.
    error DeviceInvalidSignature(address device, address recovered);

    /// @notice The binding's deadline has passed.
    /// @param deadline The signed deadline.
    /// @param nowTimestamp The current block timestamp.
    error DeviceBindingExpired(uint256 deadline, uint256 nowTimestamp);

    /// @notice The caller may not manage this device.
    /// @param device The device.
    /// @param caller The caller.
    error DeviceUnauthorized(address device, address caller);

    /// @notice The requested status change is not allowed from the current status.
    /// @param device The device.
    /// @param current The current status.
    /// @param requested The requested status.
    error DeviceInvalidStatusTransition(address device, DeviceStatus current, DeviceStatus requested);

    /// @notice The operation needs an Active device.
    /// @param device The device.
    /// @param status Its status.
    error DeviceNotActive(address device, DeviceStatus status);

    /// @notice Only an admin can resume a device an admin suspended.
    /// @param device The device.
    error DeviceAdminHold(address device);

    /// @notice The caller is not the proposed owner.
    /// @param device The device.
    /// @param caller The caller.
    /// @param pendingOwner The proposed owner.
    error DeviceNotPendingOwner(address device, address caller, address pendingOwner);

    /// @notice The batch's seq range is empty, reversed, or overlaps (or goes behind) what is already anchored.
    /// @param device The device.
    /// @param fromSeq First seq of the batch.
    /// @param toSeq Last seq of the batch.
    /// @param nextSeq The lowest seq a new batch may start at.
    error AnchorInvalidRange(address device, uint64 fromSeq, uint64 toSeq, uint64 nextSeq);

    /// @notice This Merkle root is already anchored for this device.
    /// @param device The device.
    /// @param root The root.
    error AnchorAlreadyExists(address device, bytes32 root);

    /// @notice The batch would move the device's sequence forward by more than `maxAdvance` (`toSeq + 1 - nextSeq`).
    /// @param device The device.
    /// @param fromSeq First seq of the batch.
    /// @param toSeq Last seq of the batch.
    /// @param nextSeq The lowest seq a new batch may start at.
    /// @param maxAdvance The largest advance one batch may make.
    error AnchorSeqAdvanceTooLarge(address device, uint64 fromSeq, uint64 toSeq, uint64 nextSeq, uint64 maxAdvance);

    /// @notice The zero root cannot be anchored.
    error AnchorZeroRoot();

    /// @notice This gateway already anchored this fleet root.
    /// @param gateway The gateway (the caller).
    /// @param root The root.
    error FleetAnchorAlreadyExists(address gateway, bytes32 root);

    /// @notice A fleet anchor must hold at least one reading (`count == 0`).
    error FleetAnchorEmpty();

    // ------------------------------------------------------------------ fleet anchoring

    /// @notice Anchors `root`, a StandardMerkleTree root over the EIP-712 `Reading` digests of readings of any
    /// number of devices, in the caller's own namespace: one transaction and one storage slot per interval,
    /// whatever the fleet size. Anyone may call; what the anchor proves for a device is decided at verification
    /// ({verifyFleetReading}) from the owner and gateway authorisations at the anchor's time. Does not touch any
    /// device's `nextSeq`.
    /// @dev Requirements: `root` non-zero, `count` non-zero, (caller, root) not anchored yet. Emits {FleetAnchored}.
    /// @param root The Merkle root.
    /// @param count Number of readings under the root (informational).
    /// @param uri Where the readings can be fetched.
    function anchorFleet(bytes32 root, uint32 count, string calldata uri) external;

    /// @notice The fleet anchor of `root` by `gateway` (all zero when `gateway` never anchored `root`).
    /// @param gateway The anchoring account.
    /// @param root The Merkle root.
    /// @return The fleet anchor.
    function fleetAnchorOf(address gateway, bytes32 root) external view returns (FleetAnchor memory);

    /// @notice The owner `device` had at `timestamp`: the owner set by its registration or last ownership transfer
    /// at or before that time (zero before registration). A change at time t counts from t on.
    /// @param device The device.
    /// @param timestamp A unix time in seconds.
    /// @return The owner at that time.
    function ownerAt(address device, uint64 timestamp) external view returns (address);

    /// @notice Whether `owner` had authorised `gateway` at `timestamp` (its last {setGateway} at or before that
    /// time). A change at time t counts from t on.
    /// @param owner The device owner.
    /// @param gateway The gateway.
    /// @param timestamp A unix time in seconds.
    /// @return True when authorised at that time.
    function gatewayAuthorisedAt(address owner, address gateway, uint64 timestamp) external view returns (bool);

    /// @notice Whether a reading is covered by the fleet anchor (`gateway`, `root`): true iff the anchor exists,
    /// at its `anchoredAt` the device was Active and its owner was `gateway` itself or had authorised `gateway`,
    /// and `proof` proves the reading's EIP-712 `Reading` digest under `root` (StandardMerkleTree leaf encoding
    /// ["bytes32"], the leaf rule of {verifyReading}).
    /// @dev Says nothing about completeness: whether a device's sequence has gaps is checked off-chain from the
    /// readings (docs/protocol.md).
    /// @param gateway The anchoring account.
    /// @param root The fleet root.
    /// @param device The device that signed the reading.
    /// @param seq The reading's sequence number.
    /// @param timestamp The reading's unix time in seconds.
    /// @param values The reading's values.
    /// @param proof The StandardMerkleTree proof of the reading's leaf.
    /// @return True when the reading is covered by the anchor.
    function verifyFleetReading(
        address gateway,
        bytes32 root,
        address device,
        uint64 seq,
        uint64 timestamp,
        int64[] calldata values,
        bytes32[] calldata proof
    ) external view returns (bool);

    // ------------------------------------------------------------------ views used by other contracts

    /// @notice The stored record of `device` (all zero when unregistered).
    /// @param device The device.
    /// @return The device record.
    function getDevice(address device) external view returns (Device memory);

    /// @notice Owner and status of `device` in one call (zero and `None` when unregistered).
    /// @param device The device.
    /// @return owner The owner.
    /// @return status The status.
    function ownerAndStatus(address device) external view returns (address owner, DeviceStatus status);

    /// @notice Owner, status and sensor schema of `device` in one call (all zero when unregistered): what an
    /// insurer checks before covering it, without copying the metadata URI.
    /// @param device The device.
    /// @return owner The owner.
    /// @return status The status.
    /// @return sensorSchema The sensor schema id.
    function ownerStatusAndSchema(address device)
        external
        view
        returns (address owner, DeviceStatus status, bytes32 sensorSchema);

    /// @notice The status `device` had at `timestamp`: the status set by its last change at or before that time
    /// (`None` before registration). A change at time t counts from t on.
    /// @param device The device.
    /// @param timestamp A unix time in seconds.
    /// @return The status at that time.
    function statusAt(address device, uint64 timestamp) external view returns (DeviceStatus);

    /// @notice The anchor recorded for `root` by `device` (zero when `device` never anchored `root`).
    /// @param device The device.
    /// @param root The Merkle root.
    /// @return The anchor.
    function anchorOf(address device, bytes32 root) external view returns (Anchor memory);

    /// @notice Whether `digest` (a reading's EIP-712 digest) is a leaf of the batch `root` anchored by `device`
    /// (false if `device` did not anchor `root`).
    /// @param device The device.
    /// @param root A Merkle root anchored by `device`.
    /// @param digest The reading's EIP-712 digest.
    /// @param proof The StandardMerkleTree proof of the leaf.
    /// @return True when the reading is in the anchored batch.
    function verifyReading(address device, bytes32 root, bytes32 digest, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
