// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";

/// @title DeviceRegistry
/// @notice Identity, status and data provenance of IoT devices (docs/protocol.md).
///
/// - A device is the address of its own secp256k1 key. `register` needs the device's EIP-712 signature over
///   `DeviceBinding(address device,address owner,bytes32 metadataHash,uint256 nonce,uint256 deadline)` in the domain
///   `{name: "Triad DeviceRegistry", version: "1", chainId, verifyingContract: this}`, so a key cannot be squatted,
///   a binding cannot be replayed (per-device nonce) or used on another chain or registry.
/// - Status: Active <-> Suspended (owner or admin; an admin's suspension, or an admin hold put on an owner's
///   suspension, can only be lifted by an admin) and -> Revoked (owner or admin; final). Every status change
///   (and every ownership transfer) is also appended to the device's history, so {statusAt} ({ownerAt}) answers
///   the status (owner) at any past time: what a claim on an incident depends on is the status at the incident, not
///   today's (audit M-2).
/// - Owners (or gateways they authorise) anchor batches of readings as StandardMerkleTree roots whose leaves are the
///   readings' EIP-712 `Reading` digests. Anchors are keyed by (device, root): a root anchored for one device says
///   nothing about another, so nobody can take another device's root by anchoring it first (audit M-1). Per
///   device, anchored seq ranges only move forward, never overlap, and one batch advances the sequence by at most
///   {MAX_SEQ_ADVANCE} (audit L-5: the 2^64 sequence space cannot be used up in a few calls).
/// - A gateway anchors all new readings of all its devices in one transaction per interval ({anchorFleet}): one
///   StandardMerkleTree root over `Reading` digests of many devices, keyed by (gateway, root), one storage slot
///   whatever the fleet size. Anyone may anchor in its own namespace; {verifyFleetReading} counts a reading only
///   if, at the anchor's time, the device was Active and its owner was the gateway or had authorised it. For that
///   the registry keeps every device's owner history and every (owner, gateway) authorisation history, so a later
///   transfer or de-authorisation does not rewrite what earlier anchors prove, and a later authorisation does not
///   make earlier anchors count. Fleet anchors leave `nextSeq` alone: completeness is checked off-chain.
///
/// Invariants: `_devices[d].nextSeq` only grows; every anchored range of `d` lies below it. The last checkpoint of
/// `_history[d]` equals (`_devices[d].owner`, `_devices[d].status`), and the last of `_gatewayHistory[o][g]` equals
/// `_gateways[o][g]` (0 or 1). Histories are keyed by block timestamp: two changes with the same timestamp keep the
/// later one, so a time's state is the state at the end of it.
///
/// WARNING: the sensor schema given at registration is declared by the owner; the device signs the metadata hash,
/// so consumers that care should check the metadata document (which names the schema) against `metadataHash`.
contract DeviceRegistry is IDeviceRegistry, AccessControl, EIP712 {
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Role that may suspend, resume and revoke any device (human oversight, incident response).
    bytes32 public constant DEVICE_ADMIN_ROLE = keccak256("DEVICE_ADMIN_ROLE");

    /// @notice EIP-712 type hash of `DeviceBinding`.
    bytes32 public constant DEVICE_BINDING_TYPEHASH =
        keccak256("DeviceBinding(address device,address owner,bytes32 metadataHash,uint256 nonce,uint256 deadline)");

    /// @notice EIP-712 type hash of `Reading`.
    bytes32 public constant READING_TYPEHASH =
        keccak256("Reading(address device,uint64 seq,uint64 timestamp,int64[] values)");

    /// @notice Largest amount by which one batch may move a device's `nextSeq` (`toSeq + 1 - nextSeq`).
    uint64 public constant MAX_SEQ_ADVANCE = 2 ** 32;

    mapping(address device => Device) private _devices;
    mapping(address device => uint256) private _nonces;
    mapping(address device => address) private _pendingOwners;
    mapping(address owner => mapping(address gateway => bool)) private _gateways;
    /// @dev Per-device namespace of roots (M-1). Fleet anchors (keyed by gateway and root) get a mapping of their
    /// own beside this one, so the two namespaces cannot collide.
    mapping(address device => mapping(bytes32 root => Anchor)) private _anchors;
    /// @dev Append-only (since, owner and status) checkpoints: key = block timestamp of the change, value =
    /// `uint160(owner) << 8 | status`. One history for both (not one per field) so that registering a device writes
    /// one checkpoint, not two: a second history would cost every registration two more fresh slots (~44,000 gas).
    mapping(address device => Checkpoints.Trace208) private _history;
    /// @dev (since, authorised) checkpoints: key = block timestamp of {setGateway}, value = 1 or 0. `_gateways`
    /// stays beside it so {anchorBatch} reads the current authorisation in one slot.
    mapping(address owner => mapping(address gateway => Checkpoints.Trace208)) private _gatewayHistory;
    /// @dev Per-gateway namespace of fleet roots: nobody can anchor, or claim, a root in another's namespace.
    mapping(address gateway => mapping(bytes32 root => FleetAnchor)) private _fleetAnchors;

    /// @param admin Receives DEFAULT_ADMIN_ROLE and DEVICE_ADMIN_ROLE.
    constructor(address admin) EIP712("Triad DeviceRegistry", "1") {
        if (admin == address(0)) revert DeviceZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEVICE_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ registration

    /// @notice Registers `device` to the caller. The device key must have signed a `DeviceBinding` naming the
    /// caller as owner, `metadataHash`, the device's current nonce and `deadline`.
    /// @dev Requirements: device not registered, deadline not passed, signature by the device key.
    /// Emits {DeviceRegistered}.
    /// @param device The device address.
    /// @param sensorSchema keccak256 of the sensor schema id (for example keccak256("ai4i-2020/v1")).
    /// @param metadataHash Hash of the device metadata document.
    /// @param metadataURI Location of the metadata document.
    /// @param deadline Last timestamp at which the binding is valid.
    /// @param signature The device's 65-byte EIP-712 signature.
    function register(
        address device,
        bytes32 sensorSchema,
        bytes32 metadataHash,
        string calldata metadataURI,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (device == address(0)) revert DeviceZeroAddress();
        if (_devices[device].status != DeviceStatus.None) revert DeviceAlreadyRegistered(device);
        _useBinding(device, msg.sender, metadataHash, deadline, signature);

        Device storage d = _devices[device];
        d.owner = msg.sender;
        d.status = DeviceStatus.Active;
        d.registeredAt = uint64(block.timestamp);
        d.sensorSchema = sensorSchema;
        d.metadataHash = metadataHash;
        d.metadataURI = metadataURI;
        _record(device, d);
        emit DeviceRegistered(device, msg.sender, sensorSchema, metadataHash, metadataURI);
    }

    /// @notice Replaces the device metadata (for example after a firmware update). The device key signs a new
    /// `DeviceBinding` with its next nonce, so an old binding cannot roll the metadata back.
    /// @dev Requirements: caller is the owner, device not revoked and not under an admin hold, valid fresh binding.
    /// Emits {DeviceMetadataUpdated}.
    /// @param device The device.
    /// @param metadataHash The new metadata hash.
    /// @param metadataURI The new metadata location.
    /// @param deadline Last timestamp at which the binding is valid.
    /// @param signature The device's EIP-712 signature.
    function updateMetadata(
        address device,
        bytes32 metadataHash,
        string calldata metadataURI,
        uint256 deadline,
        bytes calldata signature
    ) external {
        Device storage d = _registered(device);
        if (msg.sender != d.owner) revert DeviceUnauthorized(device, msg.sender);
        if (d.status == DeviceStatus.Revoked) revert DeviceNotActive(device, d.status);
        if (d.adminHold) revert DeviceAdminHold(device);
        _useBinding(device, msg.sender, metadataHash, deadline, signature);

        d.metadataHash = metadataHash;
        d.metadataURI = metadataURI;
        emit DeviceMetadataUpdated(device, metadataHash, metadataURI);
    }

    // ------------------------------------------------------------------ status

    /// @notice Suspends an Active device. An admin's suspension (by an admin who is not the owner) can only be
    /// lifted by an admin. An admin may also put a hold on a device its owner already suspended (audit L-6), so an
    /// owner's own suspension cannot pre-empt an admin's.
    /// @dev Requirements: caller is the owner or a DEVICE_ADMIN_ROLE holder; status Active, or (admin only)
    /// Suspended without an admin hold. Emits {DeviceStatusChanged}, or {DeviceAdminHoldSet} for a hold on an
    /// already suspended device.
    /// @param device The device.
    function suspend(address device) external {
        Device storage d = _registered(device);
        bool byOwner = msg.sender == d.owner;
        if (!byOwner && !hasRole(DEVICE_ADMIN_ROLE, msg.sender)) revert DeviceUnauthorized(device, msg.sender);
        if (!byOwner && d.status == DeviceStatus.Suspended && !d.adminHold) {
            d.adminHold = true;
            emit DeviceAdminHoldSet(device, true, msg.sender);
            return;
        }
        d.adminHold = !byOwner;
        _setStatus(device, d, DeviceStatus.Suspended);
    }

    /// @notice Returns a Suspended device to Active.
    /// @dev Requirements: caller is the owner (unless an admin suspended it) or an admin; status Suspended.
    /// Emits {DeviceStatusChanged}.
    /// @param device The device.
    function resume(address device) external {
        Device storage d = _registered(device);
        bool isAdmin = hasRole(DEVICE_ADMIN_ROLE, msg.sender);
        if (msg.sender != d.owner && !isAdmin) revert DeviceUnauthorized(device, msg.sender);
        if (d.status != DeviceStatus.Suspended) {
            revert DeviceInvalidStatusTransition(device, d.status, DeviceStatus.Active);
        }
        if (d.adminHold && !isAdmin) revert DeviceAdminHold(device);
        d.adminHold = false;
        _setStatus(device, d, DeviceStatus.Active);
    }

    /// @notice Revokes a device for good (its key is compromised or it is retired). Final.
    /// @dev Requirements: caller is the owner or an admin; status Active or Suspended. Emits {DeviceStatusChanged}.
    /// @param device The device.
    function revoke(address device) external {
        Device storage d = _registered(device);
        if (msg.sender != d.owner && !hasRole(DEVICE_ADMIN_ROLE, msg.sender)) {
            revert DeviceUnauthorized(device, msg.sender);
        }
        _setStatus(device, d, DeviceStatus.Revoked);
    }

    // ------------------------------------------------------------------ ownership

    /// @notice Proposes `newOwner` as the device's next owner; `address(0)` cancels a pending proposal.
    /// @dev Requirements: caller is the owner. Emits {DeviceOwnershipTransferStarted}.
    /// @param device The device.
    /// @param newOwner The proposed owner.
    function proposeOwner(address device, address newOwner) external {
        Device storage d = _registered(device);
        if (msg.sender != d.owner) revert DeviceUnauthorized(device, msg.sender);
        _pendingOwners[device] = newOwner;
        emit DeviceOwnershipTransferStarted(device, msg.sender, newOwner);
    }

    /// @notice Accepts a pending ownership proposal.
    /// @dev Requirements: caller is the proposed owner. Emits {DeviceOwnershipTransferred}.
    /// @param device The device.
    function acceptOwnership(address device) external {
        Device storage d = _registered(device);
        address pending = _pendingOwners[device];
        // msg.sender is never the zero address, so a device with no proposal (pending == 0) is refused here too.
        if (msg.sender != pending) revert DeviceNotPendingOwner(device, msg.sender, pending);
        address previous = d.owner;
        d.owner = msg.sender;
        delete _pendingOwners[device];
        _record(device, d);
        emit DeviceOwnershipTransferred(device, previous, msg.sender);
    }

    /// @notice Authorises (or de-authorises) `gateway` to anchor readings for every device the caller owns, from
    /// now on: per-device batches ({anchorBatch}) and fleet anchors made while it is authorised
    /// ({verifyFleetReading}). The change is appended to the (caller, gateway) history; fleet anchors made before it
    /// keep the authorisation they had.
    /// @dev Requirements: `gateway` non-zero. Emits {GatewaySet}.
    /// @param gateway The gateway account.
    /// @param authorised Whether it may anchor.
    function setGateway(address gateway, bool authorised) external {
        if (gateway == address(0)) revert DeviceZeroAddress();
        // Repeating the current setting changes nothing, so it appends nothing (a checkpoint costs a fresh slot).
        if (_gateways[msg.sender][gateway] != authorised) {
            _gateways[msg.sender][gateway] = authorised;
            // block.timestamp < 2^48 for the next eight million years.
            _gatewayHistory[msg.sender][gateway].push(uint48(block.timestamp), authorised ? 1 : 0);
        }
        emit GatewaySet(msg.sender, gateway, authorised);
    }

    // ------------------------------------------------------------------ anchors

    /// @notice Anchors a batch of the device's readings as a StandardMerkleTree root over their EIP-712 digests.
    /// @dev Requirements: caller is the owner or one of its gateways; device Active; root non-zero and not yet
    /// anchored for this device (another device may anchor the same root: anchors are per device);
    /// `nextSeq <= fromSeq <= toSeq < type(uint64).max` and `toSeq + 1 - nextSeq <= MAX_SEQ_ADVANCE`. Gaps between
    /// batches are allowed. Emits {BatchAnchored}.
    /// Storage is one slot per batch whatever its size; the range and URI live in the event.
    /// @param device The device.
    /// @param root The Merkle root.
    /// @param fromSeq First seq in the batch.
    /// @param toSeq Last seq in the batch.
    /// @param uri Where the readings can be fetched.
    function anchorBatch(address device, bytes32 root, uint64 fromSeq, uint64 toSeq, string calldata uri) external {
        Device storage d = _registered(device);
        address owner = d.owner;
        if (msg.sender != owner && !_gateways[owner][msg.sender]) revert DeviceUnauthorized(device, msg.sender);
        if (d.status != DeviceStatus.Active) revert DeviceNotActive(device, d.status);
        if (root == bytes32(0)) revert AnchorZeroRoot();
        Anchor storage anchor = _anchors[device][root];
        if (anchor.anchoredAt != 0) revert AnchorAlreadyExists(device, root);
        uint64 nextSeq = d.nextSeq;
        if (fromSeq < nextSeq || toSeq < fromSeq || toSeq == type(uint64).max) {
            revert AnchorInvalidRange(device, fromSeq, toSeq, nextSeq);
        }
        // Cannot overflow or underflow: nextSeq <= fromSeq <= toSeq < type(uint64).max was checked above.
        unchecked {
            if (toSeq - nextSeq >= MAX_SEQ_ADVANCE) {
                revert AnchorSeqAdvanceTooLarge(device, fromSeq, toSeq, nextSeq, MAX_SEQ_ADVANCE);
            }
            d.nextSeq = toSeq + 1;
        }
        anchor.device = device;
        anchor.anchoredAt = uint64(block.timestamp);
        emit BatchAnchored(device, root, fromSeq, toSeq, uri, msg.sender);
    }

    /// @inheritdoc IDeviceRegistry
    /// @dev One storage slot (timestamp, count) per anchor; the URI lives in the event only.
    function anchorFleet(bytes32 root, uint32 count, string calldata uri) external {
        if (root == bytes32(0)) revert AnchorZeroRoot();
        if (count == 0) revert FleetAnchorEmpty();
        FleetAnchor storage anchor = _fleetAnchors[msg.sender][root];
        if (anchor.anchoredAt != 0) revert FleetAnchorAlreadyExists(msg.sender, root);
        anchor.anchoredAt = uint64(block.timestamp);
        anchor.count = count;
        emit FleetAnchored(msg.sender, root, count, uri);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IDeviceRegistry
    function getDevice(address device) external view returns (Device memory) {
        return _devices[device];
    }

    /// @inheritdoc IDeviceRegistry
    function ownerAndStatus(address device) external view returns (address owner, DeviceStatus status) {
        Device storage d = _devices[device];
        return (d.owner, d.status);
    }

    /// @inheritdoc IDeviceRegistry
    function ownerStatusAndSchema(address device)
        external
        view
        returns (address owner, DeviceStatus status, bytes32 sensorSchema)
    {
        Device storage d = _devices[device];
        return (d.owner, d.status, d.sensorSchema);
    }

    /// @inheritdoc IDeviceRegistry
    function statusAt(address device, uint64 timestamp) external view returns (DeviceStatus) {
        (, DeviceStatus status) = _stateAt(device, timestamp);
        return status;
    }

    /// @inheritdoc IDeviceRegistry
    function anchorOf(address device, bytes32 root) external view returns (Anchor memory) {
        return _anchors[device][root];
    }

    /// @inheritdoc IDeviceRegistry
    function verifyReading(address device, bytes32 root, bytes32 digest, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (_anchors[device][root].anchoredAt == 0) return false;
        return MerkleProof.verifyCalldata(proof, root, _leaf(digest));
    }

    /// @inheritdoc IDeviceRegistry
    function fleetAnchorOf(address gateway, bytes32 root) external view returns (FleetAnchor memory) {
        return _fleetAnchors[gateway][root];
    }

    /// @inheritdoc IDeviceRegistry
    function ownerAt(address device, uint64 timestamp) external view returns (address) {
        (address owner,) = _stateAt(device, timestamp);
        return owner;
    }

    /// @inheritdoc IDeviceRegistry
    function gatewayAuthorisedAt(address owner, address gateway, uint64 timestamp) external view returns (bool) {
        return _gatewayAuthorisedAt(owner, gateway, timestamp);
    }

    /// @inheritdoc IDeviceRegistry
    /// @dev WARNING: a root is only as trustworthy as its anchoring account. The device's signature is not checked
    /// here (the leaf is the digest the device signed); the owner vouches for it by anchoring, or by authorising the
    /// gateway that did. Resolution is one block timestamp: a change in the same second as the anchor counts as
    /// made before it.
    function verifyFleetReading(
        address gateway,
        bytes32 root,
        address device,
        uint64 seq,
        uint64 timestamp,
        int64[] calldata values,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (!_fleetAnchorCovers(gateway, root, device)) return false;
        return MerkleProof.verifyCalldata(proof, root, _leaf(_readingDigest(device, seq, timestamp, values)));
    }

    /// @notice The next `DeviceBinding` nonce of `device`.
    /// @param device The device.
    /// @return The nonce its next binding must carry.
    function nonces(address device) external view returns (uint256) {
        return _nonces[device];
    }

    /// @notice The proposed next owner of `device` (zero when none).
    /// @param device The device.
    /// @return The pending owner.
    function pendingOwner(address device) external view returns (address) {
        return _pendingOwners[device];
    }

    /// @notice Whether `gateway` may anchor readings for the devices of `owner`.
    /// @param owner The device owner.
    /// @param gateway The gateway.
    /// @return True when authorised.
    function isGateway(address owner, address gateway) external view returns (bool) {
        return _gateways[owner][gateway];
    }

    /// @notice The EIP-712 digest of a reading, the value a device signs and the leaf value of anchored batches.
    /// @param device The device.
    /// @param seq The reading's sequence number.
    /// @param timestamp The reading's unix time in seconds.
    /// @param values The reading's values (schema-defined integers).
    /// @return The digest.
    function readingDigest(address device, uint64 seq, uint64 timestamp, int64[] calldata values)
        external
        view
        returns (bytes32)
    {
        return _readingDigest(device, seq, timestamp, values);
    }

    /// @notice The EIP-712 digest of a `DeviceBinding`.
    /// @param device The device.
    /// @param owner The owner it binds to.
    /// @param metadataHash The metadata hash.
    /// @param nonce The nonce.
    /// @param deadline The deadline.
    /// @return The digest the device key signs.
    function bindingDigest(address device, address owner, bytes32 metadataHash, uint256 nonce, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(DEVICE_BINDING_TYPEHASH, device, owner, metadataHash, nonce, deadline))
        );
    }

    // ------------------------------------------------------------------ internal

    function _registered(address device) private view returns (Device storage d) {
        d = _devices[device];
        if (d.status == DeviceStatus.None) revert DeviceNotRegistered(device);
    }

    /// @dev Checks deadline and nonce, verifies the device's signature, then consumes the nonce.
    function _useBinding(
        address device,
        address owner,
        bytes32 metadataHash,
        uint256 deadline,
        bytes calldata signature
    ) private {
        if (block.timestamp > deadline) revert DeviceBindingExpired(deadline, block.timestamp);
        uint256 nonce = _nonces[device];
        (address recovered, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(bindingDigest(device, owner, metadataHash, nonce, deadline), signature);
        if (err != ECDSA.RecoverError.NoError || recovered != device) {
            revert DeviceInvalidSignature(device, recovered);
        }
        _nonces[device] = nonce + 1;
    }

    /// @dev The one place statuses change. Allowed: Active -> Suspended, Suspended -> Active,
    /// Active | Suspended -> Revoked.
    function _setStatus(address device, Device storage d, DeviceStatus next) private {
        DeviceStatus current = d.status;
        bool allowed = (current == DeviceStatus.Active && next != DeviceStatus.Active)
            || (current == DeviceStatus.Suspended && next != DeviceStatus.Suspended);
        if (!allowed) revert DeviceInvalidStatusTransition(device, current, next);
        d.status = next;
        _record(device, d);
        emit DeviceStatusChanged(device, current, next, msg.sender);
    }

    /// @dev The EIP-712 digest of a `Reading`.
    function _readingDigest(address device, uint64 seq, uint64 timestamp, int64[] calldata values)
        private
        view
        returns (bytes32)
    {
        // abi.encodePacked pads each array element to 32 bytes (sign-extended), exactly EIP-712's array encoding.
        bytes32 valuesHash = keccak256(abi.encodePacked(values));
        return _hashTypedDataV4(keccak256(abi.encode(READING_TYPEHASH, device, seq, timestamp, valuesHash)));
    }

    /// @dev StandardMerkleTree leaf for the single-value encoding ["bytes32"]: double keccak of the ABI encoding.
    function _leaf(bytes32 digest) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(digest))));
    }

    /// @dev Whether `gateway`'s anchor of `root` speaks for `device`: it exists and, at its time, the device was
    /// Active (as {anchorBatch} requires) and its owner was `gateway` or had authorised it.
    function _fleetAnchorCovers(address gateway, bytes32 root, address device) private view returns (bool) {
        uint64 anchoredAt = _fleetAnchors[gateway][root].anchoredAt;
        if (anchoredAt == 0) return false;
        (address owner, DeviceStatus status) = _stateAt(device, anchoredAt);
        return status == DeviceStatus.Active
            && (owner == gateway || _gatewayAuthorisedAt(owner, gateway, anchoredAt));
    }

    /// @dev History keys are uint48; later times than that clamp to the last key (the latest checkpoint).
    function _historyKey(uint64 timestamp) private pure returns (uint48) {
        return timestamp > type(uint48).max ? type(uint48).max : uint48(timestamp);
    }

    /// @dev Owner and status of `device` at `timestamp` (zero and None before registration).
    function _stateAt(address device, uint64 timestamp) private view returns (address owner, DeviceStatus status) {
        uint208 state = _history[device].upperLookupRecent(_historyKey(timestamp));
        return (address(uint160(state >> 8)), DeviceStatus(uint8(state)));
    }

    function _gatewayAuthorisedAt(address owner, address gateway, uint64 timestamp) private view returns (bool) {
        return _gatewayHistory[owner][gateway].upperLookupRecent(_historyKey(timestamp)) != 0;
    }

    /// @dev Appends (now, owner, status) to the device's history: called after every change of either. A second
    /// change in the same block time overwrites that time's checkpoint, so the history holds the state at the end of
    /// each block time.
    function _record(address device, Device storage d) private {
        // block.timestamp < 2^48 for the next eight million years; 160 + 8 bits fit in 208.
        _history[device].push(uint48(block.timestamp), (uint208(uint160(d.owner)) << 8) | uint208(uint8(d.status)));
    }
}
