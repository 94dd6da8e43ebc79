// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IClaimsInsurance
/// @notice Insurance of registered IoT devices: products, policies (ERC-721), claims with device-signed evidence,
/// verdicts from the AI oracle committee (EIP-712 `Verdict`, docs/protocol.md §10.4), appeals to a human arbiter, payouts from
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
/// NOTE: `fileClaim` takes `incidentAt` besides (policy, amount, evidenceHash, uri): the product's claim window runs
/// from the incident, so the contract needs it; the evidence bundle's `incidentAt` must equal it.
///
/// Nothing is paid twice (docs/protocol.md §10.3): an evidence hash is filed at most once, ever; and a claim reserves
/// its device's incident window `[incidentAt - incidentWindowBefore, incidentAt + incidentWindowAfter]` (product
/// terms) from filing, so no claim of any policy of the device can be filed on an overlapping window while the claim
/// is open or after it was paid; the window is released when the claim ends unpaid (status Closed).
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

    /// @notice Which fleet-anchoring gateways a product accepts for the readings of its claims' evidence
    /// (docs/protocol.md §10.1). The oracle checks it ({productAcceptsGateway}); the contract only stores it.
    /// @dev `AnyAuthorised`: any gateway the device's owner had authorised in the registry when it anchored.
    /// `Allowlist`: only the gateways on the product's allowlist ({setProductGateway}), and these only if the owner
    /// had also authorised them.
    enum GatewayPolicy {
        AnyAuthorised,
        Allowlist
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
    /// @param maxAnchorDelay Longest time, in seconds, from a reading's timestamp to the block that anchored it for
    /// the reading to count as evidence (the oracle refuses later anchors, and anchors after the claim's filing).
    /// @param incidentWindowBefore Seconds before `incidentAt` that a claim's incident window starts.
    /// @param incidentWindowAfter Seconds after `incidentAt` that a claim's incident window ends. The window
    /// `[incidentAt - incidentWindowBefore, incidentAt + incidentWindowAfter]` is the telemetry the claim rests on;
    /// it is reserved for the device at filing (see {fileClaim}).
    /// @param sensorSchema Devices must be registered with this sensor schema id.
    /// @param gatewayPolicy Which anchoring gateways the product accepts ({GatewayPolicy}).
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
        uint32 maxAnchorDelay;
        uint32 incidentWindowBefore;
        uint32 incidentWindowAfter;
        bytes32 sensorSchema;
        GatewayPolicy gatewayPolicy;
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
    /// @param reason The deciding verdict's reason code: 0 for an approval, else why the committee rejected the
    /// claim (docs/protocol.md §11.3). It stays the committee's after an arbiter's decision.
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
        uint8 reason;
        ClaimStatus status;
        bool approved;
        bytes32 evidenceHash;
        bytes32 modelHash;
        string evidenceURI;
    }

    /// @notice EIP-712 `Verdict` (docs/protocol.md §10.4), domain {name: "Triad ClaimsInsurance", version: "1",
    /// chainId, this}. `reason` is the reason code (docs/protocol.md §11.3): 0 if and only if `approved`.
    struct Verdict {
        uint256 claimId;
        bytes32 evidenceHash;
        bytes32 modelHash;
        bool approved;
        uint256 payout;
        uint16 scoreBps;
        uint8 reason;
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
    /// @param reason Reason code: 0 for an approval, else why the claim was rejected (docs/protocol.md §11.3).
    /// @param modelHash The model used.
    /// @param digest The deciding digest.
    event VerdictFinalised(
        uint256 indexed claimId,
        bool approved,
        uint256 payout,
        uint16 scoreBps,
        uint8 reason,
        bytes32 indexed modelHash,
        bytes32 digest
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
    /// payout above the claim amount (or nonzero on a rejection), a reason code that is not 0 exactly for an
    /// approval ({ClaimsInvalidReason}), a non-member or duplicate signer.
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

    // ==================================================================================================================
    // Additions (after the interface above was fixed). Errors, events and the functions that operators, holders and
    // the arbiter call. Above, issue 14 changed Product (telemetry terms), Claim (`reason`), Verdict (`reason`) and
    // VerdictFinalised (`reason`); nothing else above changed.
    // ==================================================================================================================

    /// @notice The product fields {createProduct} validates, for {ClaimsInvalidProduct}. `IncidentWindow` stands
    /// for `incidentWindowBefore + incidentWindowAfter`.
    enum ProductField {
        MaxCoverage,
        Deductible,
        ClaimDeposit,
        PremiumRateBps,
        MinDuration,
        MaxDuration,
        WaitingPeriod,
        ClaimWindow,
        AssessmentWindow,
        SensorSchema,
        MaxAnchorDelay,
        IncidentWindow
    }

    /// @notice A product was created. Products are immutable apart from `active` (new terms = new product), so a
    /// policy's terms never change after it is sold.
    /// @param productId The product.
    /// @param product Its terms.
    event ProductCreated(uint256 indexed productId, Product product);

    /// @notice A product was opened or closed for new policies.
    /// @param productId The product.
    /// @param active Whether new policies can be bought.
    event ProductActiveSet(uint256 indexed productId, bool active);

    /// @notice A model was allowed or disallowed for a product's verdicts.
    /// @param productId The product.
    /// @param modelHash The model hash.
    /// @param allowed Whether verdicts made with it are accepted for the product.
    event ProductModelSet(uint256 indexed productId, bytes32 indexed modelHash, bool allowed);

    /// @notice A gateway was put on or taken off a product's allowlist (used when its gateway policy is
    /// {GatewayPolicy.Allowlist}).
    /// @param productId The product.
    /// @param gateway The gateway.
    /// @param accepted Whether readings it anchors are accepted as evidence of the product's claims.
    event ProductGatewaySet(uint256 indexed productId, address indexed gateway, bool accepted);

    /// @notice A claim reserved its device's incident window at filing: no other claim of the device may be filed on
    /// an overlapping window until it is released.
    /// @param claimId The claim.
    /// @param device The insured device.
    /// @param windowStart `incidentAt - incidentWindowBefore`.
    /// @param windowEnd `incidentAt + incidentWindowAfter`.
    event IncidentWindowReserved(uint256 indexed claimId, address indexed device, uint64 windowStart, uint64 windowEnd);

    /// @notice A claim ended unpaid (status Closed) and its incident window is free again.
    /// @param claimId The claim.
    /// @param device The insured device.
    /// @param windowStart Start of the window released.
    /// @param windowEnd End of the window released.
    event IncidentWindowReleased(uint256 indexed claimId, address indexed device, uint64 windowStart, uint64 windowEnd);

    /// @notice A policy was bought; its ERC-721 token was minted to `holder`.
    /// @param policyId The policy (token id).
    /// @param productId The product.
    /// @param device The insured device.
    /// @param holder The buyer.
    /// @param coverage The coverage locked in the pool.
    /// @param premium The premium paid.
    /// @param start Coverage start.
    /// @param end Coverage end.
    event PolicyPurchased(
        uint256 indexed policyId,
        uint256 indexed productId,
        address indexed device,
        address holder,
        uint256 coverage,
        uint256 premium,
        uint64 start,
        uint64 end
    );

    /// @notice What was left of a policy's coverage went back to the pool's free capital.
    /// @param policyId The policy.
    /// @param amount The amount released.
    event CoverageReleased(uint256 indexed policyId, uint256 amount);

    /// @notice A decided claim was sent to the arbiter: by the holder (rejection or partial payout) or by the
    /// insurer (approval challenged).
    /// @param claimId The claim.
    /// @param by The holder or insurer.
    /// @param from The status appealed against (Approved or Rejected).
    event ClaimAppealed(uint256 indexed claimId, address indexed by, ClaimStatus from);

    /// @notice A claim without a verdict by its assessment deadline was sent to the arbiter.
    /// @param claimId The claim.
    /// @param by Who escalated it.
    event ClaimEscalated(uint256 indexed claimId, address indexed by);

    /// @notice The arbiter decided an appealed or escalated claim (final).
    /// @param claimId The claim.
    /// @param approved The decision.
    /// @param payout Approved payout before the deductible.
    /// @param arbiter The arbiter.
    event ClaimResolved(uint256 indexed claimId, bool approved, uint256 payout, address indexed arbiter);

    /// @notice A claim was settled: paid (status Paid) or closed (status Closed).
    /// @param claimId The claim.
    /// @param recipient The policy token's holder at settlement (payout and deposit refund go there).
    /// @param status Paid or Closed.
    /// @param paid Amount paid from the pool (payout minus deductible).
    /// @param depositRefunded Claim deposit returned (zero when the claim ended rejected: the deposit went to the pool).
    event ClaimSettled(
        uint256 indexed claimId, address indexed recipient, ClaimStatus status, uint256 paid, uint256 depositRefunded
    );

    /// @notice Tokens held above the claim deposits (sent to this contract directly) were sent to the treasury.
    /// @param treasury The receiver: the pool's treasury.
    /// @param amount The surplus (zero when there was none).
    event SurplusSwept(address indexed treasury, uint256 amount);

    /// @notice The zero address is not allowed here.
    error ClaimsZeroAddress();
    /// @notice A product field is out of range.
    /// @param field The field.
    error ClaimsInvalidProduct(ProductField field);
    /// @notice No such product.
    /// @param productId The product.
    error ClaimsUnknownProduct(uint256 productId);
    /// @notice The product does not sell new policies.
    /// @param productId The product.
    error ClaimsProductInactive(uint256 productId);
    /// @notice The zero hash is not a model.
    error ClaimsZeroModel();
    /// @notice Only the device's registered owner can insure it.
    /// @param device The device.
    /// @param caller The caller.
    /// @param owner The registered owner.
    error ClaimsNotDeviceOwner(address device, address caller, address owner);
    /// @notice The device is not Active in the registry.
    /// @param device The device.
    /// @param status Its status.
    error ClaimsDeviceNotActive(address device, IDeviceRegistry.DeviceStatus status);
    /// @notice The device's sensor schema is not the product's.
    /// @param device The device.
    /// @param sensorSchema The device's schema.
    /// @param expected The product's schema.
    error ClaimsSensorSchemaMismatch(address device, bytes32 sensorSchema, bytes32 expected);
    /// @notice The device is still covered by another policy (one policy per device at a time).
    /// @param device The device.
    /// @param coveredUntil End of the current coverage.
    error ClaimsDeviceAlreadyCovered(address device, uint64 coveredUntil);
    /// @notice Coverage must be in 1..maxCoverage.
    /// @param coverage The coverage asked for.
    /// @param maxCoverage The product's maximum.
    error ClaimsInvalidCoverage(uint256 coverage, uint256 maxCoverage);
    /// @notice Duration must be in minDuration..maxDuration.
    /// @param duration The duration asked for.
    /// @param minDuration The product's minimum.
    /// @param maxDuration The product's maximum.
    error ClaimsInvalidDuration(uint256 duration, uint32 minDuration, uint32 maxDuration);
    /// @notice No such policy.
    /// @param policyId The policy.
    error ClaimsUnknownPolicy(uint256 policyId);
    /// @notice Only the policy token's holder may do this.
    /// @param policyId The policy.
    /// @param caller The caller.
    /// @param holder The holder.
    error ClaimsNotPolicyHolder(uint256 policyId, address caller, address holder);
    /// @notice The policy already has a claim in progress.
    /// @param policyId The policy.
    /// @param claimId The open claim.
    error ClaimsClaimOpen(uint256 policyId, uint256 claimId);
    /// @notice The policy's coverage was released: it covers nothing any more.
    /// @param policyId The policy.
    error ClaimsCoverageReleased(uint256 policyId);
    /// @notice The claimed amount must be in 1..remaining coverage.
    /// @param policyId The policy.
    /// @param amount The amount claimed.
    /// @param remaining Coverage not yet paid out.
    error ClaimsInvalidAmount(uint256 policyId, uint256 amount, uint256 remaining);
    /// @notice The incident lies outside the covered period [start + waitingPeriod, end) (half-open: the instant
    /// `end` belongs to a renewal starting then).
    /// @param policyId The policy.
    /// @param incidentAt The incident time.
    /// @param coveredFrom Start of cover (after the waiting period), inclusive.
    /// @param coveredUntil End of cover, exclusive.
    error ClaimsIncidentNotCovered(uint256 policyId, uint64 incidentAt, uint64 coveredFrom, uint64 coveredUntil);
    /// @notice The incident time is in the future.
    /// @param incidentAt The incident time.
    /// @param nowTimestamp The current block time.
    error ClaimsIncidentInFuture(uint64 incidentAt, uint256 nowTimestamp);
    /// @notice The claim window after the incident has closed.
    /// @param policyId The policy.
    /// @param incidentAt The incident time.
    /// @param closedAt When the window closed.
    error ClaimsClaimWindowClosed(uint256 policyId, uint64 incidentAt, uint256 closedAt);
    /// @notice The evidence hash must not be zero.
    error ClaimsZeroEvidence();

    /// @notice The device was not Active at the incident (suspended, revoked, or not yet registered then).
    /// @param device The device.
    /// @param incidentAt The incident time.
    /// @param status Its status at that time ({IDeviceRegistry-statusAt}).
    error ClaimsDeviceNotActiveAtIncident(address device, uint64 incidentAt, IDeviceRegistry.DeviceStatus status);

    /// @notice The policy's term ends within the product's waiting period: it would cover no incident.
    /// @param duration The requested duration.
    /// @param waitingPeriod The product's waiting period.
    error ClaimsDurationNotAboveWaitingPeriod(uint32 duration, uint32 waitingPeriod);

    /// @notice The coverage does not exceed the product's deductible: the policy could never pay.
    /// @param coverage The requested coverage.
    /// @param deductible The product's deductible.
    error ClaimsCoverageNotAboveDeductible(uint256 coverage, uint256 deductible);
    /// @notice The claim is not in a status that allows this (None means unknown).
    /// @param claimId The claim.
    /// @param status Its status.
    error ClaimsUnexpectedStatus(uint256 claimId, ClaimStatus status);
    /// @notice The verdict's evidence hash is not the claim's.
    /// @param claimId The claim.
    /// @param evidenceHash The verdict's.
    /// @param expected The claim's.
    error ClaimsEvidenceMismatch(uint256 claimId, bytes32 evidenceHash, bytes32 expected);
    /// @notice The verdict's deadline is not the claim's assessment deadline.
    /// @param claimId The claim.
    /// @param deadline The verdict's.
    /// @param expected The claim's.
    error ClaimsDeadlineMismatch(uint256 claimId, uint64 deadline, uint64 expected);
    /// @notice The assessment deadline has passed.
    /// @param claimId The claim.
    /// @param deadline The deadline.
    /// @param nowTimestamp The current block time.
    error ClaimsVerdictExpired(uint256 claimId, uint64 deadline, uint256 nowTimestamp);
    /// @notice The payout is above what the decision allows (the claim amount; zero for a rejection).
    /// @param claimId The claim.
    /// @param payout The payout given.
    /// @param max The maximum.
    error ClaimsPayoutTooHigh(uint256 claimId, uint256 payout, uint256 max);
    /// @notice A model score must be at most 10000 basis points.
    /// @param claimId The claim.
    /// @param scoreBps The score given.
    error ClaimsInvalidScore(uint256 claimId, uint16 scoreBps);
    /// @notice The model is not allowed for the product.
    /// @param productId The product.
    /// @param modelHash The model hash.
    error ClaimsModelNotAllowed(uint256 productId, bytes32 modelHash);
    /// @notice A verdict needs at least one signature.
    /// @param claimId The claim.
    error ClaimsNoSignatures(uint256 claimId);
    /// @notice Members whose signatures on this digest are already counted signed again.
    /// @param claimId The claim.
    /// @param digest The verdict digest.
    /// @param slots Bitmap of the member slots counted twice.
    error ClaimsDuplicateSigner(uint256 claimId, bytes32 digest, uint32 slots);
    /// @notice The batch arrays differ in length.
    /// @param verdicts Number of verdicts.
    /// @param signatures Number of signature arrays.
    error ClaimsLengthMismatch(uint256 verdicts, uint256 signatures);
    /// @notice Only the contract itself may call this.
    /// @param caller The caller.
    error ClaimsOnlySelf(address caller);
    /// @notice The appeal window has closed.
    /// @param claimId The claim.
    /// @param appealDeadline End of the window.
    /// @param nowTimestamp The current block time.
    error ClaimsAppealWindowClosed(uint256 claimId, uint64 appealDeadline, uint256 nowTimestamp);
    /// @notice The appeal window is still open.
    /// @param claimId The claim.
    /// @param appealDeadline End of the window.
    /// @param nowTimestamp The current block time.
    error ClaimsAppealWindowOpen(uint256 claimId, uint64 appealDeadline, uint256 nowTimestamp);
    /// @notice The holder can appeal only a rejection or a partial payout.
    /// @param claimId The claim.
    /// @param payout The approved payout.
    /// @param amount The claimed amount.
    error ClaimsNothingToAppeal(uint256 claimId, uint256 payout, uint256 amount);
    /// @notice The assessment deadline has not passed yet.
    /// @param claimId The claim.
    /// @param deadline The assessment deadline.
    /// @param nowTimestamp The current block time.
    error ClaimsAssessmentPending(uint256 claimId, uint64 deadline, uint256 nowTimestamp);
    /// @notice The policy's claim period has not ended: claims can be filed until `end + claimWindow`.
    /// @param policyId The policy.
    /// @param claimPeriodEnd `end + claimWindow`; the coverage can be released after it.
    error ClaimsPolicyNotExpired(uint256 policyId, uint256 claimPeriodEnd);
    /// @notice A value does not fit the packed storage of this contract.
    /// @param value The value.
    error ClaimsValueTooLarge(uint256 value);
    /// @notice This evidence was filed before, with another claim: an evidence bundle backs at most one claim.
    /// @param evidenceHash The evidence hash.
    /// @param claimId The claim it was filed with.
    error ClaimsEvidenceAlreadyUsed(bytes32 evidenceHash, uint256 claimId);
    /// @notice The claim's incident window overlaps the window of an open or paid claim of the same device (of any
    /// policy). Windows are compared in whole minutes (docs/protocol.md §10.3).
    /// @param device The device.
    /// @param windowStart Start of the requested window.
    /// @param windowEnd End of the requested window.
    error ClaimsIncidentWindowTaken(address device, uint64 windowStart, uint64 windowEnd);
    /// @notice A verdict's reason code must be 0 for an approval and non-zero for a rejection.
    /// @param claimId The claim.
    /// @param approved The verdict's decision.
    /// @param reason The verdict's reason code.
    error ClaimsInvalidReason(uint256 claimId, bool approved, uint8 reason);

    /// @notice Creates a product. Its terms are immutable; only `active`, its allowed models and its gateway
    /// allowlist change afterwards.
    /// @dev Requirements: INSURER_ROLE; 0 < maxCoverage < 2^96; deductible < maxCoverage; claimDeposit < 2^96;
    /// premiumRateBps > 0; 0 < minDuration <= maxDuration <= 10 years; waitingPeriod < maxDuration;
    /// claimWindow > 0; assessmentWindow > 0; sensorSchema != 0; maxAnchorDelay > 0;
    /// incidentWindowBefore + incidentWindowAfter <= MAX_INCIDENT_WINDOW (1 day). Emits {ProductCreated}.
    /// @param product The terms.
    /// @return productId The new product's id (1, 2, ...).
    function createProduct(Product calldata product) external returns (uint256 productId);

    /// @notice Opens or closes a product for new policies (existing policies are unaffected).
    /// @dev Requirements: INSURER_ROLE; the product exists. Emits {ProductActiveSet}.
    /// @param productId The product.
    /// @param active Whether new policies can be bought.
    function setProductActive(uint256 productId, bool active) external;

    /// @notice Allows or disallows a model for a product's verdicts (it must also be approved in the committee).
    /// @dev Requirements: INSURER_ROLE; the product exists; non-zero hash. Emits {ProductModelSet}.
    /// @param productId The product.
    /// @param modelHash The model hash.
    /// @param allowed Whether verdicts made with it are accepted.
    function setProductModel(uint256 productId, bytes32 modelHash, bool allowed) external;

    /// @notice Puts a gateway on or takes it off a product's allowlist. The allowlist counts only when the product's
    /// gateway policy is {GatewayPolicy.Allowlist}.
    /// @dev Requirements: INSURER_ROLE; the product exists; non-zero gateway. Emits {ProductGatewaySet}.
    /// WARNING: the oracle applies the allowlist as it is when it decides a claim: taking a gateway off refuses the
    /// readings it anchored before, in claims not decided yet.
    /// @param productId The product.
    /// @param gateway The gateway.
    /// @param accepted Whether readings it anchors are accepted.
    function setProductGateway(uint256 productId, address gateway, bool accepted) external;

    /// @notice Whether readings anchored by `gateway` (in a fleet anchor) are accepted as evidence for claims of
    /// `productId`: true for every gateway under {GatewayPolicy.AnyAuthorised}, else whether it is on the product's
    /// allowlist. Either way the device's owner must also have authorised the gateway when it anchored (the
    /// registry's `gatewayAuthorisedAt`, checked by the oracle).
    /// @dev Reverts with {ClaimsUnknownProduct} for an unknown product.
    /// @param productId The product.
    /// @param gateway The gateway.
    /// @return True when accepted.
    function productAcceptsGateway(uint256 productId, address gateway) external view returns (bool);

    /// @notice The claim an evidence hash was filed with (0 when never filed).
    /// @param evidenceHash The evidence hash.
    /// @return claimId The claim.
    function evidenceClaim(bytes32 evidenceHash) external view returns (uint256 claimId);

    /// @notice Buys a policy on `device` and mints its ERC-721 token to the caller. The premium
    /// ({quotePremium}) is pulled from the caller and paid into the pool; the coverage is locked in the pool.
    /// @dev Requirements: not paused; active product; the caller owns `device`, which is Active with the product's
    /// sensor schema and not covered by another policy; deductible < coverage <= maxCoverage; minDuration <= duration
    /// <= maxDuration and duration > waitingPeriod (a policy that could never pay is refused); the pool can lock the
    /// coverage; allowance for the premium. Emits {PolicyPurchased}.
    /// @param productId The product.
    /// @param device The device to insure.
    /// @param coverage The coverage (token units).
    /// @param duration The duration in seconds (coverage runs from now).
    /// @return policyId The policy and token id (1, 2, ...).
    function buyPolicy(uint256 productId, address device, uint256 coverage, uint32 duration)
        external
        returns (uint256 policyId);

    /// @notice Files a claim on a policy. The product's claim deposit is pulled from the caller.
    /// @dev Requirements: the caller holds the policy token; no claim open on the policy; coverage not released;
    /// 0 < amount <= remaining coverage; start + waitingPeriod <= incidentAt < end and incidentAt <= now;
    /// now <= incidentAt + claimWindow; the device was Active at `incidentAt` ({IDeviceRegistry-statusAt}: its
    /// status now does not matter); evidenceHash != 0 and never filed before ({ClaimsEvidenceAlreadyUsed}); the
    /// incident window `[incidentAt - incidentWindowBefore, incidentAt + incidentWindowAfter]` shares no minute
    /// with the window of an open or paid claim of the same device, under any policy
    /// ({ClaimsIncidentWindowTaken}); allowance for the deposit. Works while paused (a pause must not run out claim
    /// windows). The assessment deadline is now + assessmentWindow. The window stays reserved until the claim ends
    /// unpaid (Closed), for good if it is paid. Emits {ClaimFiled} and {IncidentWindowReserved}.
    /// @param policyId The policy.
    /// @param amount Amount claimed.
    /// @param incidentAt Incident time (equal to the evidence bundle's `incidentAt`).
    /// @param evidenceHash keccak256 of the exact evidence bundle bytes.
    /// @param evidenceURI Where the oracle fetches the bundle.
    /// @return claimId The claim (1, 2, ...).
    function fileClaim(
        uint256 policyId,
        uint256 amount,
        uint64 incidentAt,
        bytes32 evidenceHash,
        string calldata evidenceURI
    ) external returns (uint256 claimId);

    /// @notice The holder appeals a rejection or a partial payout to the arbiter.
    /// @dev Requirements: the caller holds the policy token; status Rejected, or Approved with payout < amount;
    /// before the appeal deadline. Emits {ClaimAppealed}.
    /// @param claimId The claim.
    function appeal(uint256 claimId) external;

    /// @notice The insurer challenges an approval before the arbiter.
    /// @dev Requirements: INSURER_ROLE; status Approved; before the appeal deadline. Emits {ClaimAppealed}.
    /// @param claimId The claim.
    function challenge(uint256 claimId) external;

    /// @notice Sends a claim that got no verdict by its assessment deadline to the arbiter. Anyone may call.
    /// @dev Requirements: status Filed; assessment deadline passed. Emits {ClaimEscalated}.
    /// @param claimId The claim.
    function escalate(uint256 claimId) external;

    /// @notice The arbiter decides an appealed or escalated claim; final, and settled in the same transaction.
    /// @dev Requirements: ARBITER_ROLE; status Appealed or Escalated; payout <= amount when approving, zero when
    /// rejecting. Emits {ClaimResolved} and {ClaimSettled} (and {IncidentWindowReleased} when it ends unpaid).
    /// @param claimId The claim.
    /// @param approved The decision.
    /// @param payout The payout before the deductible.
    function resolve(uint256 claimId, bool approved, uint256 payout) external;

    /// @notice Settles a decided claim after its appeal window: pays `payout - deductible` from the pool to the
    /// policy token's current holder and refunds the deposit, or (rejection) closes it and sends the deposit to the
    /// pool. Anyone may call.
    /// @dev Requirements: status Approved or Rejected; appeal deadline reached. Emits {ClaimSettled}, and
    /// {IncidentWindowReleased} when the claim ends unpaid (Closed).
    /// @param claimId The claim.
    function settle(uint256 claimId) external;

    /// @notice Releases what is left of a policy's coverage back to the pool. Anyone may call.
    /// @dev Requirements: now > end + claimWindow (no claim can be filed any more); no open claim; not released.
    /// Emits {CoverageReleased}.
    /// @param policyId The policy.
    function releaseCoverage(uint256 policyId) external;

    /// @notice Stops new policies. Claims on existing policies, verdicts, appeals, settlements and releases continue
    /// (a pause longer than a claim window must not void covered claims).
    /// @dev Requirements: GUARDIAN_ROLE; not paused. Emits {Paused}.
    function pause() external;

    /// @notice Lifts a pause.
    /// @dev Requirements: GUARDIAN_ROLE; paused. Emits {Unpaused}.
    function unpause() external;

    /// @notice The premium of a policy: `coverage * premiumRateBps * duration / (10000 * 365 days)`, rounded up.
    /// @param productId The product.
    /// @param coverage The coverage.
    /// @param duration The duration in seconds.
    /// @return The premium.
    function quotePremium(uint256 productId, uint256 coverage, uint32 duration) external view returns (uint256);

    /// @notice Number of products created (ids 1..productCount).
    /// @return The count.
    function productCount() external view returns (uint256);

    /// @notice Number of policies sold (ids 1..policyCount).
    /// @return The count.
    function policyCount() external view returns (uint256);

    /// @notice Sends the tokens held above {depositsHeld} (sent to this contract directly, audit I-6) to the pool's
    /// treasury. Claim deposits are never touched. With no surplus it sends nothing and returns 0, as the pool's
    /// `sweepSurplus` does, so a keeper may call it on a schedule.
    /// @dev Requirements: DEFAULT_ADMIN_ROLE. Emits {SurplusSwept}.
    /// @return amount The surplus swept.
    function sweepSurplus() external returns (uint256 amount);

    /// @notice The claim deposits this contract holds: the sum of the deposits of unsettled claims (what it owes).
    /// @return The total.
    function depositsHeld() external view returns (uint256);
}
