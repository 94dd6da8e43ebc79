// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IOracleCommittee} from "../interfaces/IOracleCommittee.sol";

/// @title OracleCommittee
/// @notice The k-of-n committee of AI oracle members and the registry of approved AI models (docs/protocol.md §10.4).
///
/// - Members hold stable slots 0..31 (a member keeps its slot until removed; a freed slot is reused by the next
///   member added). A signature bitmap over slots counts distinct members, as in Chainlink OCR.
/// - Every configuration change (members or threshold) goes through one internal function, {_reconfigure}, that
///   validates `threshold <= memberCount < 2 * threshold` (a strict majority, audit I-4) on the resulting
///   configuration and bumps `configVersion` once. Two sets of `threshold` members then always share a member, so
///   one member signing conflicting verdicts cannot decide a split committee: the other side would need a majority
///   of honest members too.
///   Consumers discard signature tallies made under an older version, so a change takes effect for every signature
///   submitted afterwards.
/// - No call adjusts the threshold by itself. Removing a member that would leave fewer members than the threshold,
///   and adding a member that would leave the threshold at half the members or fewer, REVERT with
///   {CommitteeInvalidThreshold}; use {reconfigure}, which pairs the change with a new threshold atomically (one
///   version bump). (A removal alone never breaks the majority: `2k > n` implies `2k > n - 1`.)
/// - Model hashes move `None -> Approved -> Retired`; a retired hash never comes back.
///
/// Invariant: `1 <= threshold <= memberCount < 2 * threshold` and `memberCount <= 32` after construction and after
/// every configuration change (1 of 1 is a majority), and
/// `_slotOf[_members[s]] == s + 1` for every occupied slot `s`.
///
/// WARNING: `verify` proves only that current members signed `digest`. It does not know what was signed: the caller
/// must build `digest` itself (EIP-712, binding chain, contract and object) and must compare the bitmap's popcount
/// with `threshold` under the returned `configVersion`.
contract OracleCommittee is IOracleCommittee, AccessControl {
    /// @notice Role that manages members, the threshold and the approved models.
    bytes32 public constant COMMITTEE_MANAGER_ROLE = keccak256("COMMITTEE_MANAGER_ROLE");

    /// @notice Most members a committee can have: one bit each in a `uint32` bitmap.
    uint8 public constant MAX_MEMBERS = 32;

    /// @dev Packed into one slot so that `verify` reads the configuration with a single SLOAD.
    struct Config {
        uint8 threshold;
        uint8 memberCount;
        uint32 version;
        uint32 occupied; // bit s set when slot s holds a member
    }

    Config private _config;
    address[32] private _members;
    mapping(address account => uint8 slotPlusOne) private _slotOf;
    mapping(bytes32 modelHash => Model) private _models;

    /// @param admin Receives DEFAULT_ADMIN_ROLE and COMMITTEE_MANAGER_ROLE.
    /// @param initialMembers The first members (slots 0.. in order).
    /// @param initialThreshold The first threshold, a strict majority:
    /// `initialThreshold <= initialMembers.length < 2 * initialThreshold`.
    constructor(address admin, address[] memory initialMembers, uint8 initialThreshold) {
        if (admin == address(0)) revert CommitteeZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(COMMITTEE_MANAGER_ROLE, admin);
        _reconfigure(new address[](0), initialMembers, initialThreshold);
    }

    // ------------------------------------------------------------------ membership

    /// @notice Adds `member` in the lowest free slot. The threshold stays, so this reverts when it would no longer be
    /// a strict majority of the members (2 of 3 plus one is 2 of 4): use {reconfigure} to add and raise it together.
    /// @dev Requirements: COMMITTEE_MANAGER_ROLE; not zero, not a member, fewer than 32 members;
    /// `memberCount + 1 < 2 * threshold`.
    /// Emits {MemberAdded}.
    /// @param member The new member.
    function addMember(address member) external onlyRole(COMMITTEE_MANAGER_ROLE) {
        address[] memory additions = new address[](1);
        additions[0] = member;
        _reconfigure(new address[](0), additions, _config.threshold);
    }

    /// @notice Removes `member`. The threshold stays, so this reverts when it would exceed the remaining members:
    /// use {reconfigure} to remove and lower the threshold together.
    /// @dev Requirements: COMMITTEE_MANAGER_ROLE; `member` is a member; `threshold <= memberCount - 1`.
    /// Emits {MemberRemoved}.
    /// @param member The member to remove.
    function removeMember(address member) external onlyRole(COMMITTEE_MANAGER_ROLE) {
        address[] memory removals = new address[](1);
        removals[0] = member;
        _reconfigure(removals, new address[](0), _config.threshold);
    }

    /// @notice Sets the threshold.
    /// @dev Requirements: COMMITTEE_MANAGER_ROLE; `newThreshold <= memberCount < 2 * newThreshold` (a strict
    /// majority). Emits {ThresholdChanged}.
    /// @param newThreshold Distinct members needed to decide.
    function setThreshold(uint8 newThreshold) external onlyRole(COMMITTEE_MANAGER_ROLE) {
        _reconfigure(new address[](0), new address[](0), newThreshold);
    }

    /// @notice Removes, then adds members and sets the threshold in one step, validated once on the result and
    /// counted as one configuration version.
    /// @dev Requirements: COMMITTEE_MANAGER_ROLE; each removal a member; each addition new and non-zero; at most 32
    /// members; `newThreshold <= memberCount < 2 * newThreshold` afterwards (a strict majority). Emits {MemberRemoved}, {MemberAdded} per change and
    /// {ThresholdChanged} when the threshold changes.
    /// @param removals Members to remove.
    /// @param additions Accounts to add.
    /// @param newThreshold The threshold afterwards.
    function reconfigure(address[] calldata removals, address[] calldata additions, uint8 newThreshold)
        external
        onlyRole(COMMITTEE_MANAGER_ROLE)
    {
        _reconfigure(removals, additions, newThreshold);
    }

    // ------------------------------------------------------------------ models

    /// @notice Approves a model hash for deciding claims.
    /// @dev Requirements: COMMITTEE_MANAGER_ROLE; non-zero hash never registered before. Emits {ModelApproved}.
    /// @param modelHash keccak256 over model.json and its weight files (docs/protocol.md §8.1).
    /// @param version Version label.
    /// @param uri Artifact location.
    function approveModel(bytes32 modelHash, string calldata version, string calldata uri)
        external
        onlyRole(COMMITTEE_MANAGER_ROLE)
    {
        if (modelHash == bytes32(0)) revert CommitteeZeroModel();
        Model storage m = _models[modelHash];
        if (m.status != ModelStatus.None) revert CommitteeModelExists(modelHash);
        m.status = ModelStatus.Approved;
        m.version = version;
        m.uri = uri;
        emit ModelApproved(modelHash, version, uri);
    }

    /// @notice Retires an approved model: verdicts made with it are refused from now on. Final.
    /// @dev Requirements: COMMITTEE_MANAGER_ROLE; the model is approved. Emits {ModelRetired}.
    /// @param modelHash The model hash.
    function retireModel(bytes32 modelHash) external onlyRole(COMMITTEE_MANAGER_ROLE) {
        Model storage m = _models[modelHash];
        if (m.status != ModelStatus.Approved) revert CommitteeModelNotApproved(modelHash);
        m.status = ModelStatus.Retired;
        emit ModelRetired(modelHash);
    }

    // ------------------------------------------------------------------ verification

    /// @inheritdoc IOracleCommittee
    function verify(bytes32 digest, bytes[] calldata signatures)
        external
        view
        returns (uint32 bitmap, uint8 threshold_, uint32 configVersion_)
    {
        return _verify(digest, signatures);
    }

    /// @inheritdoc IOracleCommittee
    function verifyWithModel(bytes32 digest, bytes32 modelHash, bytes[] calldata signatures)
        external
        view
        returns (uint32 bitmap, uint8 threshold_, uint32 configVersion_)
    {
        if (_models[modelHash].status != ModelStatus.Approved) revert CommitteeModelNotApproved(modelHash);
        return _verify(digest, signatures);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IOracleCommittee
    function memberCount() external view returns (uint8) {
        return _config.memberCount;
    }

    /// @inheritdoc IOracleCommittee
    function threshold() external view returns (uint8) {
        return _config.threshold;
    }

    /// @inheritdoc IOracleCommittee
    function configVersion() external view returns (uint32) {
        return _config.version;
    }

    /// @inheritdoc IOracleCommittee
    function memberSlot(address account) external view returns (bool isMember, uint8 slot) {
        uint8 slotPlusOne = _slotOf[account];
        if (slotPlusOne == 0) return (false, 0);
        // Cannot underflow: slotPlusOne != 0.
        unchecked {
            return (true, slotPlusOne - 1);
        }
    }

    /// @inheritdoc IOracleCommittee
    function members() external view returns (address[] memory list) {
        Config memory cfg = _config;
        list = new address[](cfg.memberCount);
        uint256 n;
        for (uint8 s; s < MAX_MEMBERS; ++s) {
            if (cfg.occupied & (uint32(1) << s) != 0) list[n++] = _members[s];
        }
    }

    /// @inheritdoc IOracleCommittee
    function getModel(bytes32 modelHash) external view returns (Model memory) {
        return _models[modelHash];
    }

    /// @inheritdoc IOracleCommittee
    function isModelApproved(bytes32 modelHash) external view returns (bool) {
        return _models[modelHash].status == ModelStatus.Approved;
    }

    // ------------------------------------------------------------------ internal

    /// @dev Counts distinct current members over `digest`. Signatures are read straight from calldata (no copy)
    /// and recovered with OpenZeppelin ECDSA, which refuses malleable (high-s) and malformed signatures.
    function _verify(bytes32 digest, bytes[] calldata signatures)
        private
        view
        returns (uint32 bitmap, uint8 threshold_, uint32 configVersion_)
    {
        Config memory cfg = _config;
        uint256 n = signatures.length;
        for (uint256 i; i < n; ++i) {
            address recovered = _recover(digest, signatures[i]);
            if (recovered == address(0)) revert CommitteeInvalidSigner(i, address(0));
            uint8 slotPlusOne = _slotOf[recovered];
            if (slotPlusOne == 0) revert CommitteeInvalidSigner(i, recovered);
            // Cannot underflow: slotPlusOne != 0; the shift is below 32.
            uint32 bit;
            unchecked {
                bit = uint32(1) << (slotPlusOne - 1);
            }
            if (bitmap & bit != 0) revert CommitteeDuplicateSigner(recovered);
            bitmap |= bit;
        }
        return (bitmap, cfg.threshold, cfg.version);
    }

    /// @dev The signer of a 65-byte signature, or zero when it is malformed or malleable (OpenZeppelin ECDSA rules).
    function _recover(bytes32 digest, bytes calldata sig) private pure returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        // The (r, s, v) split of OpenZeppelin's `ECDSA.tryRecover(bytes32, bytes memory)`, read straight from
        // calldata (length 65 checked above) instead of copying the signature to memory first: about 300 gas per
        // signature on the verdict path. Three loads, no memory writes, no control flow.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            r := calldataload(sig.offset)
            s := calldataload(add(sig.offset, 0x20))
            v := byte(0, calldataload(add(sig.offset, 0x40)))
        }
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        return err == ECDSA.RecoverError.NoError ? recovered : address(0);
    }

    /// @dev The one place the configuration changes: applies removals, then additions, then the threshold,
    /// validates the result (a strict majority, audit I-4) and bumps the version once. Every event carries the new
    /// version.
    function _reconfigure(address[] memory removals, address[] memory additions, uint8 newThreshold) private {
        Config memory cfg = _config;
        // Cannot overflow in practice: one increment per configuration transaction.
        unchecked {
            ++cfg.version;
        }
        for (uint256 i; i < removals.length; ++i) {
            address member = removals[i];
            uint8 slotPlusOne = _slotOf[member];
            if (slotPlusOne == 0) revert CommitteeNotMember(member);
            // Cannot underflow: slotPlusOne != 0 and a member exists, so memberCount >= 1.
            unchecked {
                uint8 slot = slotPlusOne - 1;
                delete _slotOf[member];
                delete _members[slot];
                cfg.occupied &= ~(uint32(1) << slot);
                --cfg.memberCount;
                emit MemberRemoved(member, slot, cfg.version);
            }
        }
        for (uint256 i; i < additions.length; ++i) {
            address member = additions[i];
            if (member == address(0)) revert CommitteeZeroAddress();
            if (_slotOf[member] != 0) revert CommitteeAlreadyMember(member);
            if (cfg.memberCount == MAX_MEMBERS) revert CommitteeFull();
            uint8 slot = _lowestFreeSlot(cfg.occupied);
            // Cannot overflow: slot < 32 and memberCount < 32 were checked.
            unchecked {
                _slotOf[member] = slot + 1;
                _members[slot] = member;
                cfg.occupied |= uint32(1) << slot;
                ++cfg.memberCount;
            }
            emit MemberAdded(member, slot, cfg.version);
        }
        // `memberCount < 2 * threshold` also excludes threshold 0; uint16 keeps 2 * 255 from overflowing.
        if (newThreshold > cfg.memberCount || cfg.memberCount >= 2 * uint16(newThreshold)) {
            revert CommitteeInvalidThreshold(newThreshold, cfg.memberCount);
        }
        // A bare {setThreshold} with the current value still bumps the version; the event keeps every bump visible.
        if (newThreshold != cfg.threshold || (removals.length == 0 && additions.length == 0)) {
            cfg.threshold = newThreshold;
            emit ThresholdChanged(newThreshold, cfg.version);
        }
        _config = cfg;
    }

    /// @dev The lowest clear bit of `occupied`; the caller has checked that one exists (fewer than 32 members).
    function _lowestFreeSlot(uint32 occupied) private pure returns (uint8 slot) {
        while (occupied & (uint32(1) << slot) != 0) {
            // Cannot overflow: a clear bit exists below 32.
            unchecked {
                ++slot;
            }
        }
    }
}
