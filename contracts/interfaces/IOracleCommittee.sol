// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IOracleCommittee
/// @notice The k-of-n committee of AI oracle members and the registry of approved AI models.
/// Members hold stable slots 0..31; a signature bitmap over slots counts distinct members. Every membership or
/// threshold change bumps `configVersion`: signature tallies made under an older version no longer count, so a
/// membership change takes effect for every signature submitted afterwards.
interface IOracleCommittee {
    /// @notice Lifecycle of an AI model hash.
    enum ModelStatus {
        None,
        Approved,
        Retired
    }

    /// @notice An AI model registered with the committee.
    /// @param status Approved models may decide claims; retired ones may not.
    /// @param version Human version label (for example "1.0.0").
    /// @param uri Where the model artifacts and card can be fetched.
    struct Model {
        ModelStatus status;
        string version;
        string uri;
    }

    /// @notice A member joined.
    /// @param member The member.
    /// @param slot Its slot index (its bit in signature bitmaps).
    /// @param configVersion The new configuration version.
    event MemberAdded(address indexed member, uint8 slot, uint32 configVersion);

    /// @notice A member left.
    /// @param member The member.
    /// @param slot The slot it held.
    /// @param configVersion The new configuration version.
    event MemberRemoved(address indexed member, uint8 slot, uint32 configVersion);

    /// @notice The threshold changed.
    /// @param threshold The number of distinct members needed.
    /// @param configVersion The new configuration version.
    event ThresholdChanged(uint8 threshold, uint32 configVersion);

    /// @notice A model was approved.
    /// @param modelHash keccak256 over model.json and its weight files (docs/protocol.md §8.1).
    /// @param version Version label.
    /// @param uri Artifact location.
    event ModelApproved(bytes32 indexed modelHash, string version, string uri);

    /// @notice A model was retired: verdicts made with it are refused from now on.
    /// @param modelHash The model hash.
    event ModelRetired(bytes32 indexed modelHash);

    /// @notice The committee is full (32 members).
    error CommitteeFull();
    /// @notice The account is already a member.
    /// @param member The account.
    error CommitteeAlreadyMember(address member);
    /// @notice The account is not a member.
    /// @param account The account.
    error CommitteeNotMember(address account);
    /// @notice The zero address cannot be a member.
    error CommitteeZeroAddress();
    /// @notice The threshold must be a strict majority of the members: threshold <= members < 2 * threshold
    /// (so 1 <= threshold; 1 of 1 is a majority). Audit I-4: with threshold <= members / 2, one member signing
    /// conflicting verdicts could decide a split committee either way.
    /// @param threshold The threshold that would result.
    /// @param members The member count that would result.
    error CommitteeInvalidThreshold(uint8 threshold, uint8 members);
    /// @notice The model is not approved (unknown or retired).
    /// @param modelHash The model hash.
    error CommitteeModelNotApproved(bytes32 modelHash);
    /// @notice The model hash is already registered (approved or retired; a retired hash cannot come back).
    /// @param modelHash The model hash.
    error CommitteeModelExists(bytes32 modelHash);
    /// @notice The zero hash is not a model.
    error CommitteeZeroModel();
    /// @notice A signature does not recover to a current member.
    /// @param index Position of the signature in the array.
    /// @param recovered The address it recovered to (zero when malformed).
    error CommitteeInvalidSigner(uint256 index, address recovered);
    /// @notice The same member signed twice in one call.
    /// @param member The member.
    error CommitteeDuplicateSigner(address member);

    /// @notice Number of current members.
    /// @return The count.
    function memberCount() external view returns (uint8);

    /// @notice Distinct current members needed to decide.
    /// @return The threshold k.
    function threshold() external view returns (uint8);

    /// @notice Bumped on every membership or threshold change.
    /// @return The current configuration version.
    function configVersion() external view returns (uint32);

    /// @notice Whether `account` is a current member, and its slot.
    /// @param account The account.
    /// @return isMember True for a current member.
    /// @return slot Its slot (0 when not a member).
    function memberSlot(address account) external view returns (bool isMember, uint8 slot);

    /// @notice The current members, in slot order (gaps skipped).
    /// @return The member addresses.
    function members() external view returns (address[] memory);

    /// @notice The registered model.
    /// @param modelHash The model hash.
    /// @return The model record.
    function getModel(bytes32 modelHash) external view returns (Model memory);

    /// @notice Whether `modelHash` is approved now.
    /// @param modelHash The model hash.
    /// @return True when approved and not retired.
    function isModelApproved(bytes32 modelHash) external view returns (bool);

    /// @notice Recovers each signature over `digest` (an EIP-712 digest) with OpenZeppelin ECDSA and returns the
    /// bitmap of the distinct current members that signed, together with the threshold and config version.
    /// @dev Reverts on a malformed signature, a non-member signer or a duplicate signer (see the implementation's
    /// errors). Callers OR the bitmap into their tally for that digest and compare its popcount with `threshold`.
    /// @param digest The EIP-712 digest signed.
    /// @param signatures 65-byte ECDSA signatures.
    /// @return bitmap Bit `slot` set for each signing member.
    /// @return threshold_ The current threshold.
    /// @return configVersion_ The current configuration version.
    function verify(bytes32 digest, bytes[] calldata signatures)
        external
        view
        returns (uint32 bitmap, uint8 threshold_, uint32 configVersion_);

    // ------------------------------------------------------------------ additions (after the interface was fixed)

    /// @notice Like {verify}, after checking that `modelHash` is approved: a verdict consumer (ClaimsInsurance)
    /// checks the model and the signatures in one external call.
    /// @dev Reverts {CommitteeModelNotApproved} before looking at the signatures, then as {verify}.
    /// @param digest The EIP-712 digest signed.
    /// @param modelHash The model hash the signed object names.
    /// @param signatures 65-byte ECDSA signatures.
    /// @return bitmap Bit `slot` set for each signing member.
    /// @return threshold_ The current threshold.
    /// @return configVersion_ The current configuration version.
    function verifyWithModel(bytes32 digest, bytes32 modelHash, bytes[] calldata signatures)
        external
        view
        returns (uint32 bitmap, uint8 threshold_, uint32 configVersion_);
}
