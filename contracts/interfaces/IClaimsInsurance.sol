// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IClaimsInsurance
/// @notice Insurance of registered IoT devices: products, policies (ERC-721), claims with device-signed evidence,
/// verdicts from the AI oracle committee (EIP-712 `Verdict`, DESIGN.md), appeals to a human arbiter, payouts from
/// the InsurancePool.
///
/// Claim lifecycle: Filed -> Approved | Rejected -> (appeal window) -> Paid | Closed;
/// Approved | Rejected -> Appealed -> Paid | Closed (arbiter, final); Filed past its assessment deadline ->
/// Escalated -> Paid | Closed (arbiter). A product with a zero appeal window pays in the transaction that finalises
/// an approving verdict.
///
/// Payout rule every committee member applies (so honest members sign the same digest):
/// `verdict.payout = approved ? claim.amount : 0`. The contract accepts any `payout <= claim.amount` (a lower
/// figure is a partial approval the holder may appeal); at settlement the holder receives `payout - deductible`
/// (zero when the payout does not exceed the product's deductible).
///
/// NOTE: `fileClaim` takes `incidentAt` in addition to DESIGN.md's (policy, amount, evidenceHash, uri): the product's
/// claim window runs from the incident, so the contract needs it; the evidence bundle's `incidentAt` must equal it.
interface IClaimsInsurance {
    /// @notice Status of a claim.
    enum ClaimStatus {
        None,
        Filed,
        Approved,
        Rejected,
        Appealed,
        Escalated,
        Paid,
        Closed
    }

    /// @notice An insurance product, set by the insurer role.
    /// @param maxCoverage Largest coverage a policy may have (token units).
    /// @param deductible Subtracted from every payout (token units).
    /// @param claimDeposit Paid when filing; refunded unless the claim ends rejected (token units).
    /// @param premiumRateBps Premium per year of coverage in basis points of the coverage.
    /// @param waitingPeriod Seconds after the policy start before incidents are covered.
    /// @param claimWindow Seconds after the incident within which the claim must be filed.
    /// @param assessmentWindow Seconds after filing within which the committee must decide.
    /// @param appealWindow Seconds after the verdict during which it can be appealed (0 = parametric: pay at once).
    /// @param minDuration Shortest policy duration in seconds.
    /// @param maxDuration Longest policy duration in seconds.
    /// @param sensorSchema Devices must be registered with this sensor schema id.
    /// @param active Whether new policies can be bought.
    struct Product {
        uint128 maxCoverage;
        uint128 deductible;
        uint128 claimDeposit;
        uint16 premiumRateBps;
        uint32 waitingPeriod;
        uint32 claimWindow;
        uint32 assessmentWindow;
        uint32 appealWindow;
        uint32 minDuration;
        uint32 maxDuration;
        bytes32 sensorSchema;
        bool active;
    }

    /// @notice A policy; its ERC-721 token id is the policy id and payouts go to the token's holder.
    /// @param productId The product.
    /// @param device The insured device.
    /// @param start Coverage start (purchase time).
    /// @param end Coverage end.
    /// @param coverage Total coverage (token units), locked in the pool until released.
    /// @param paidOut What has been paid so far (token units).
    /// @param premium Premium paid (token units).
    /// @param openClaimId The claim in progress (0 when none).
    /// @param released Whether the remaining coverage has been released back to the pool.
    struct Policy {
        uint256 productId;
        address device;
        uint64 start;
        uint64 end;
        uint128 coverage;
        uint128 paidOut;
        uint128 premium;
        uint256 openClaimId;
        bool released;
    }

    /// @notice A claim.
    /// @param policyId The policy.
    /// @param claimant The policy holder that filed it.
    /// @param amount Requested amount (token units), at most the remaining coverage.
    /// @param deposit Claim deposit held.
    /// @param payout Approved payout before the deductible (set by the verdict or the arbiter).
    /// @param incidentAt Unix time of the incident (equals the evidence bundle's `incidentAt`).
    /// @param filedAt Filing time.
    /// @param assessmentDeadline The `deadline` field of the Verdict: last time a verdict can be submitted.
    /// @param appealDeadline End of the appeal window (0 until a verdict).
    /// @param scoreBps The model score of the deciding verdict, in basis points.
    /// @param status Current status.
    /// @param approved The verdict's decision (meaningful from Approved/Rejected on).
    /// @param evidenceHash keccak256 of the exact evidence bundle bytes.
    /// @param modelHash The model that produced the deciding verdict.
    /// @param evidenceURI Where the evidence bundle can be fetched.
    struct Claim {
        uint256 policyId;
        address claimant;
        uint128 amount;
        uint128 deposit;
        uint128 payout;
        uint64 incidentAt;
        uint64 filedAt;
        uint64 assessmentDeadline;
        uint64 appealDeadline;
        uint16 scoreBps;
        ClaimStatus status;
        bool approved;
        bytes32 evidenceHash;
        bytes32 modelHash;
        string evidenceURI;
    }

    /// @notice EIP-712 `Verdict` (DESIGN.md), domain {name: "Triad ClaimsInsurance", version: "1", chainId, this}.
    struct Verdict {
        uint256 claimId;
        bytes32 evidenceHash;
        bytes32 modelHash;
        bool approved;
        uint256 payout;
        uint16 scoreBps;
        uint64 deadline;
    }

    /// @notice A claim was filed: everything an oracle needs to assess it.
    /// @param claimId The claim.
    /// @param policyId The policy.
    /// @param device The insured device (the evidence's readings must be signed by it).
    /// @param claimant The holder who filed.
    /// @param amount Requested amount.
    /// @param incidentAt Incident time.
    /// @param assessmentDeadline The verdict deadline.
    /// @param evidenceHash keccak256 of the evidence bundle bytes.
    /// @param evidenceURI Where to fetch the bundle.
    event ClaimFiled(
        uint256 indexed claimId,
        uint256 indexed policyId,
        address indexed device,
        address claimant,
        uint256 amount,
        uint64 incidentAt,
        uint64 assessmentDeadline,
        bytes32 evidenceHash,
        string evidenceURI
    );

    /// @notice Committee members' signatures for a verdict digest were counted.
    /// @param claimId The claim.
    /// @param digest The EIP-712 Verdict digest.
    /// @param signers Bitmap of member slots that have signed this digest so far.
    /// @param count Number of distinct signers so far.
    event VerdictSigned(uint256 indexed claimId, bytes32 indexed digest, uint32 signers, uint8 count);

    /// @notice A verdict reached the threshold and decided the claim.
    /// @param claimId The claim.
    /// @param approved The decision.
    /// @param payout Approved payout before the deductible.
    /// @param scoreBps Model score in basis points.
    /// @param modelHash The model used.
    /// @param digest The deciding digest.
    event VerdictFinalised(
        uint256 indexed claimId, bool approved, uint256 payout, uint16 scoreBps, bytes32 indexed modelHash, bytes32 digest
    );

    /// @notice A batch entry was skipped instead of reverting the batch.
    /// @param claimId The claim of the skipped entry.
    /// @param index Its position in the batch.
    /// @param reason The revert data (custom error) the entry produced.
    event VerdictSkipped(uint256 indexed claimId, uint256 index, bytes reason);

    /// @notice Submits committee signatures for a verdict. Signatures accumulate per digest across calls; when a
    /// digest reaches the committee threshold the claim is decided.
    /// @dev Refuses: unknown or already decided claim, wrong evidence hash, model not approved (committee) or not
    /// allowed for the product, `deadline` different from the claim's assessment deadline or already passed,
    /// payout above the claim amount (or nonzero on a rejection), a non-member or duplicate signer.
    /// Emits {VerdictSigned}, and {VerdictFinalised} when the threshold is reached.
    /// @param verdict The verdict.
    /// @param signatures Members' 65-byte signatures over its EIP-712 digest.
    function submitVerdict(Verdict calldata verdict, bytes[] calldata signatures) external;

    /// @notice Like {submitVerdict} for several verdicts; a bad entry is skipped with {VerdictSkipped}.
    /// @param verdicts The verdicts.
    /// @param signatures One signature array per verdict.
    function submitVerdicts(Verdict[] calldata verdicts, bytes[][] calldata signatures) external;

    /// @notice The EIP-712 digest of `verdict` in this contract's domain.
    /// @param verdict The verdict.
    /// @return The digest.
    function verdictDigest(Verdict calldata verdict) external view returns (bytes32);

    /// @notice Whether `member` has signed `digest` under the committee's current configuration.
    /// @param digest A verdict digest.
    /// @param member A committee member.
    /// @return True when its signature is already counted.
    function hasSigned(bytes32 digest, address member) external view returns (bool);

    /// @notice The claim record.
    /// @param claimId The claim.
    /// @return The claim.
    function getClaim(uint256 claimId) external view returns (Claim memory);

    /// @notice The policy record.
    /// @param policyId The policy.
    /// @return The policy.
    function getPolicy(uint256 policyId) external view returns (Policy memory);

    /// @notice The product record.
    /// @param productId The product.
    /// @return The product.
    function getProduct(uint256 productId) external view returns (Product memory);

    /// @notice Whether `modelHash` may decide claims of `productId` (it must also be approved by the committee).
    /// @param productId The product.
    /// @param modelHash The model hash.
    /// @return True when allowed.
    function isProductModel(uint256 productId, bytes32 modelHash) external view returns (bool);

    /// @notice Number of claims filed so far (claim ids are 1..claimCount).
    /// @return The count.
    function claimCount() external view returns (uint256);
}
