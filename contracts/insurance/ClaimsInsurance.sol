// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IClaimsInsurance} from "../interfaces/IClaimsInsurance.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IInsurancePool} from "../interfaces/IInsurancePool.sol";
import {IOracleCommittee} from "../interfaces/IOracleCommittee.sol";
import {PremiumMath} from "../libraries/PremiumMath.sol";
import {SignerBitmap} from "../libraries/SignerBitmap.sol";
import {VerdictHashing} from "../libraries/VerdictHashing.sol";

/// @title ClaimsInsurance
/// @notice Insurance of registered IoT devices (docs/protocol.md): products, policies as ERC-721 tokens, claims with
/// device-signed evidence, EIP-712 verdicts from the k-of-n AI oracle committee, appeals to a human arbiter and
/// payouts from the {InsurancePool}. The lifecycle and the payout rule are in {IClaimsInsurance}.
///
/// Roles: DEFAULT_ADMIN_ROLE grants roles; INSURER_ROLE creates products, allows models, keeps gateway allowlists,
/// challenges approvals;
/// ARBITER_ROLE resolves appealed and escalated claims (final); GUARDIAN_ROLE pauses new policies;
/// DEFAULT_ADMIN_ROLE also sweeps surplus tokens to the pool's treasury.
///
/// Invariants:
/// - (C1) The pool's locked capital attributable to a policy is `coverage - paidOut` until the policy is released,
///   then zero: buying locks `coverage`, a payout of `x` pays `x` out of locked capital, release unlocks the rest.
/// - (C2) `paidOut <= coverage`: a claim's amount is at most the remaining coverage when filed, and a policy has at
///   most one open claim, so nothing else can pay out of the policy before that claim settles.
/// - (C3) A claim is settled at most once: every path to payment goes through {_settle}, which is reachable only
///   from Approved/Rejected (after the appeal window), from a zero-window verdict, or from the arbiter, and moves
///   the claim to Paid or Closed, which nothing leaves.
/// - (C4) Claim deposits are held by this contract: `_depositsHeld` is the sum of the deposits of unsettled claims
///   and the token balance is at least that. A deposit is added in {_fileClaim} and removed in {_settle}, whether
///   refunded or forfeited (at most once, C3); premiums only pass through within {buyPolicy}. Tokens above
///   `_depositsHeld` were sent directly and are surplus, which {sweepSurplus} sends to the treasury (audit I-6).
/// - (C5) Nothing is paid twice (issue 14): an evidence hash backs at most one claim, ever (`_evidenceClaims`); and
///   the incident windows of a device's open and paid claims, across all its policies, share no minute
///   (`_incidentMinutes`). {_fileClaim} is the one place both are checked and recorded; {_settle} is the one place
///   a window is released, when a claim ends Closed (unpaid). A Paid claim keeps its window for good.
///
/// Incident windows are kept per device as a bitmap of minutes (bit `m % 256` of word `m / 256` stands for the
/// minute starting at `60 * m`): a window `[start, end]` takes every minute from `start / 60` to `end / 60`, so two
/// windows conflict when they share a minute (a window is widened to whole minutes, by at most 59 s each side).
/// Checking, reserving or releasing a window touches at most 7 words (`MAX_INCIDENT_WINDOW` = 1,440 minutes), a
/// bound set by the product's immutable terms, never by claimants: filing costs the same however many claims a
/// device has had.
///
/// Reentrancy: every state-changing external function is `nonReentrant` (OpenZeppelin's ReentrancyGuardTransient:
/// the same guard as ReentrancyGuard on EIP-1153 transient storage, about 2,000 gas less per call; nothing else
/// here uses transient storage), and calls that can change state elsewhere come after this contract's own changes.
///
/// Signature tallies: `_tallies[digest]` keeps the bitmap of member slots counted for a verdict digest and the
/// committee configuration version it was counted under; a tally from an older version counts as empty. A call
/// that reaches the threshold by itself never writes the tally, and `hasTally` on the claim lets such a call skip
/// reading it too.
///
/// Storage is packed for the verdict path (see `ClaimRecord`): amounts are stored in 96 bits (products are limited
/// to `maxCoverage < 2^96`, which is 7.9e22 whole units of a 6-decimal token), timestamps in 40 bits.
///
/// WARNING: payouts and deposit refunds are pushed to the policy token's current holder. A plain ERC-20 transfer
/// cannot be refused by the recipient; if the token blocklists the holder, settlement reverts until the holder
/// moves the policy token to an address that can receive. Verdict batches skip such an entry.
contract ClaimsInsurance is IClaimsInsurance, ERC721, AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice Creates products, allows models per product, challenges approvals.
    bytes32 public constant INSURER_ROLE = keccak256("INSURER_ROLE");
    /// @notice Resolves appealed and escalated claims (human oversight; final).
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    /// @notice Pauses and unpauses new policies (claims on existing policies are never paused).
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice Longest policy a product may offer.
    uint32 public constant MAX_POLICY_DURATION = 3650 days;
    /// @notice Longest incident window a product may set (`incidentWindowBefore + incidentWindowAfter`).
    uint32 public constant MAX_INCIDENT_WINDOW = 1 days;

    uint16 private constant _MAX_SCORE_BPS = 10_000;

    // The public getters token(), pool(), committee() and registry() are API (tasks and the oracle call them), so
    // these immutables keep lower-case names, as OpenZeppelin's do.
    /// @notice The deployment's ERC-20 (the pool's asset).
    // solhint-disable-next-line immutable-vars-naming
    IERC20 public immutable token;
    /// @notice Underwriting capital.
    // solhint-disable-next-line immutable-vars-naming
    IInsurancePool public immutable pool;
    /// @notice Oracle committee and model registry.
    // solhint-disable-next-line immutable-vars-naming
    IOracleCommittee public immutable committee;
    /// @notice Device identities.
    // solhint-disable-next-line immutable-vars-naming
    IDeviceRegistry public immutable registry;

    /// @dev A policy in three slots; slot 0 is the only one a payout touches.
    struct PolicyRecord {
        // slot 0
        uint96 coverage;
        uint96 paidOut;
        uint64 openClaimId;
        // slot 1
        address device;
        uint32 productId;
        uint64 start;
        // slot 2
        uint64 end;
        uint96 premium;
        bool released;
    }

    /// @dev A claim, packed for the verdict path: a verdict reads slots 0-2 and writes slot 0; settlement adds
    /// slot 3. The product terms a claim needs later (appeal window, deductible) are copied in at filing.
    struct ClaimRecord {
        // slot 0: decision state
        ClaimStatus status;
        bool approved;
        uint16 scoreBps;
        uint16 modelRef; // index + 1 into _modelHashes; 0 = none
        uint8 reason; // the deciding verdict's reason code
        uint40 assessmentDeadline;
        uint40 appealDeadline;
        uint96 payout;
        // slot 1
        uint64 policyId;
        uint96 amount;
        uint32 productId;
        uint32 appealWindow;
        bool hasTally; // a partial signature tally was stored for some digest of this claim
        // slot 2
        bytes32 evidenceHash;
        // slot 3
        uint96 deposit;
        uint96 deductible;
        uint40 incidentAt;
        // slot 4
        address claimant;
        uint40 filedAt;
        // slot 5
        string evidenceURI;
    }

    /// @dev Signatures counted for one verdict digest.
    struct Tally {
        uint32 signers;
        uint32 configVersion;
    }

    uint256 private _productCount;
    uint256 private _policyCount;
    // One slot: filing a claim writes both.
    uint64 private _claimCount;
    uint192 private _depositsHeld;
    mapping(uint256 productId => Product) private _products;
    mapping(uint256 productId => mapping(bytes32 modelHash => uint16 modelRef)) private _productModels;
    mapping(bytes32 modelHash => uint16 modelRef) private _modelRefs;
    bytes32[] private _modelHashes;
    mapping(uint256 policyId => PolicyRecord) private _policies;
    mapping(address device => uint64 coveredUntil) private _coveredUntil;
    mapping(uint256 claimId => ClaimRecord) private _claims;
    mapping(bytes32 digest => Tally) private _tallies;
    mapping(uint256 productId => mapping(address gateway => bool accepted)) private _productGateways;
    mapping(bytes32 evidenceHash => uint256 claimId) private _evidenceClaims;
    // See the contract's NatSpec: bit `m % 256` of word `m / 256` is minute `m` (unix time / 60).
    mapping(address device => mapping(uint256 word => uint256 takenMinutes)) private _incidentMinutes;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (and nothing else: grant the other roles explicitly).
    /// @param pool_ The pool; this contract needs its CLAIMS_ROLE.
    /// @param committee_ The oracle committee.
    /// @param registry_ The device registry.
    constructor(address admin, IInsurancePool pool_, IOracleCommittee committee_, IDeviceRegistry registry_)
        ERC721("Triad Device Policy", "triPOLICY")
        EIP712("Triad ClaimsInsurance", "1")
    {
        if (
            admin == address(0) || address(pool_) == address(0) || address(committee_) == address(0)
                || address(registry_) == address(0)
        ) revert ClaimsZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        pool = pool_;
        committee = committee_;
        registry = registry_;
        token = IERC20(pool_.asset());
        // The pool pulls premiums and forfeited deposits from here, and only the amounts this contract asks for.
        token.forceApprove(address(pool_), type(uint256).max);
    }

    // ------------------------------------------------------------------ products (insurer)

    /// @inheritdoc IClaimsInsurance
    /// @dev `memory`, not the interface's `calldata` (same ABI): the struct is decoded and range-checked once, and
    /// the checks, the storage copy and {ProductCreated} read the copy (see {_createProduct}).
    function createProduct(Product memory product) external onlyRole(INSURER_ROLE) returns (uint256 productId) {
        return _createProduct(product);
    }

    /// @inheritdoc IClaimsInsurance
    function setProductActive(uint256 productId, bool active) external onlyRole(INSURER_ROLE) {
        _setProductActive(productId, active);
    }

    /// @inheritdoc IClaimsInsurance
    function setProductModel(uint256 productId, bytes32 modelHash, bool allowed) external onlyRole(INSURER_ROLE) {
        _setProductModel(productId, modelHash, allowed);
    }

    /// @inheritdoc IClaimsInsurance
    function setProductGateway(uint256 productId, address gateway, bool accepted) external onlyRole(INSURER_ROLE) {
        _setProductGateway(productId, gateway, accepted);
    }

    // ------------------------------------------------------------------ policies

    /// @inheritdoc IClaimsInsurance
    /// @dev WARNING: the token is minted with `_safeMint` last, after every effect and the pool calls: a contract
    /// buyer's `onERC721Received` runs with the purchase complete, and every state-changing function here is
    /// `nonReentrant`, so a receiver cannot re-enter.
    function buyPolicy(uint256 productId, address device, uint256 coverage, uint32 duration)
        external
        whenNotPaused
        nonReentrant
        returns (uint256 policyId)
    {
        return _buyPolicy(msg.sender, productId, device, coverage, duration);
    }

    /// @inheritdoc IClaimsInsurance
    function releaseCoverage(uint256 policyId) external nonReentrant {
        _releaseCoverage(policyId);
    }

    // ------------------------------------------------------------------ claims

    /// @inheritdoc IClaimsInsurance
    /// @dev Not paused by the guardian (audit L-1): a pause longer than a claim window would otherwise void covered
    /// claims for good. Filing only records a claim and takes its deposit; money moves only on a committee or
    /// arbiter decision.
    function fileClaim(
        uint256 policyId,
        uint256 amount,
        uint64 incidentAt,
        bytes32 evidenceHash,
        string calldata evidenceURI
    ) external nonReentrant returns (uint256 claimId) {
        return _fileClaim(msg.sender, policyId, amount, incidentAt, evidenceHash, evidenceURI);
    }

    /// @inheritdoc IClaimsInsurance
    /// @dev WARNING: anyone may submit; the committee signatures are what authorise. Not paused by the guardian, so
    /// claims filed before a pause can still be decided and paid.
    function submitVerdict(Verdict calldata verdict, bytes[] calldata signatures) external nonReentrant {
        _submitVerdict(verdict, signatures);
    }

    /// @inheritdoc IClaimsInsurance
    /// @dev Each entry runs in an external self-call ({submitVerdictInBatch}) under try/catch, so a failing entry
    /// rolls back alone and its revert data becomes {VerdictSkipped}'s `reason`.
    function submitVerdicts(Verdict[] calldata verdicts, bytes[][] calldata signatures) external nonReentrant {
        _submitVerdicts(verdicts, signatures);
    }

    /// @notice One entry of {submitVerdicts}. Only this contract may call it (from inside {submitVerdicts}, which
    /// holds the reentrancy lock).
    /// @param verdict The verdict.
    /// @param signatures Its signatures.
    function submitVerdictInBatch(Verdict calldata verdict, bytes[] calldata signatures) external {
        if (msg.sender != address(this)) revert ClaimsOnlySelf(msg.sender);
        _submitVerdict(verdict, signatures);
    }

    /// @inheritdoc IClaimsInsurance
    function appeal(uint256 claimId) external nonReentrant {
        _appeal(claimId, msg.sender, false);
    }

    /// @inheritdoc IClaimsInsurance
    function challenge(uint256 claimId) external onlyRole(INSURER_ROLE) nonReentrant {
        _appeal(claimId, msg.sender, true);
    }

    /// @inheritdoc IClaimsInsurance
    function escalate(uint256 claimId) external nonReentrant {
        _escalate(claimId);
    }

    /// @inheritdoc IClaimsInsurance
    function resolve(uint256 claimId, bool approved, uint256 payout) external onlyRole(ARBITER_ROLE) nonReentrant {
        _resolve(claimId, approved, payout);
    }

    /// @inheritdoc IClaimsInsurance
    function settle(uint256 claimId) external nonReentrant {
        _settleDecided(claimId);
    }

    // ------------------------------------------------------------------ guardian

    /// @inheritdoc IClaimsInsurance
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @inheritdoc IClaimsInsurance
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IClaimsInsurance
    function sweepSurplus() external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant returns (uint256 amount) {
        return _sweepSurplus();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IClaimsInsurance
    function verdictDigest(Verdict calldata verdict) external view returns (bytes32) {
        return _hashTypedDataV4(VerdictHashing.structHash(verdict));
    }

    /// @inheritdoc IClaimsInsurance
    /// @dev A call that reached the threshold by itself stores no tally: for a decided claim, read
    /// {VerdictFinalised} instead.
    function hasSigned(bytes32 digest, address member) external view returns (bool) {
        (bool isMember, uint8 slot) = committee.memberSlot(member);
        if (!isMember) return false;
        Tally memory t = _tallies[digest];
        return t.configVersion == committee.configVersion() && SignerBitmap.has(t.signers, slot);
    }

    /// @inheritdoc IClaimsInsurance
    function getClaim(uint256 claimId) external view returns (Claim memory) {
        ClaimRecord storage c = _claims[claimId];
        uint16 modelRef = c.modelRef;
        return Claim({
            policyId: c.policyId,
            claimant: c.claimant,
            amount: c.amount,
            deposit: c.deposit,
            payout: c.payout,
            incidentAt: c.incidentAt,
            filedAt: c.filedAt,
            assessmentDeadline: c.assessmentDeadline,
            appealDeadline: c.appealDeadline,
            scoreBps: c.scoreBps,
            reason: c.reason,
            status: c.status,
            approved: c.approved,
            evidenceHash: c.evidenceHash,
            modelHash: modelRef == 0 ? bytes32(0) : _modelHashes[modelRef - 1],
            evidenceURI: c.evidenceURI
        });
    }

    /// @inheritdoc IClaimsInsurance
    function getPolicy(uint256 policyId) external view returns (Policy memory) {
        PolicyRecord storage p = _policies[policyId];
        return Policy({
            productId: p.productId,
            device: p.device,
            start: p.start,
            end: p.end,
            coverage: p.coverage,
            paidOut: p.paidOut,
            premium: p.premium,
            openClaimId: p.openClaimId,
            released: p.released
        });
    }

    /// @inheritdoc IClaimsInsurance
    function getProduct(uint256 productId) external view returns (Product memory) {
        return _products[productId];
    }

    /// @inheritdoc IClaimsInsurance
    function isProductModel(uint256 productId, bytes32 modelHash) external view returns (bool) {
        return _productModels[productId][modelHash] != 0;
    }

    /// @inheritdoc IClaimsInsurance
    function productAcceptsGateway(uint256 productId, address gateway) external view returns (bool) {
        return _existingProduct(productId).gatewayPolicy == GatewayPolicy.AnyAuthorised
            || _productGateways[productId][gateway];
    }

    /// @inheritdoc IClaimsInsurance
    function evidenceClaim(bytes32 evidenceHash) external view returns (uint256) {
        return _evidenceClaims[evidenceHash];
    }

    /// @inheritdoc IClaimsInsurance
    function quotePremium(uint256 productId, uint256 coverage, uint32 duration) external view returns (uint256) {
        return PremiumMath.premium(coverage, _existingProduct(productId).premiumRateBps, duration);
    }

    /// @inheritdoc IClaimsInsurance
    function claimCount() external view returns (uint256) {
        return _claimCount;
    }

    /// @inheritdoc IClaimsInsurance
    function depositsHeld() external view returns (uint256) {
        return _depositsHeld;
    }

    /// @inheritdoc IClaimsInsurance
    function productCount() external view returns (uint256) {
        return _productCount;
    }

    /// @inheritdoc IClaimsInsurance
    function policyCount() external view returns (uint256) {
        return _policyCount;
    }

    /// @inheritdoc ERC721
    /// @dev Policies have no metadata URI: this returns "" for an existing policy and reverts with
    /// {IERC721Errors-ERC721NonexistentToken} otherwise, exactly as ERC721's own `tokenURI` does with its empty
    /// `_baseURI()`, without the number-to-string code that branch never runs (about 480 bytes).
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return "";
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return ERC721.supportsInterface(interfaceId) || AccessControl.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internal: products

    /// @dev Works on a memory copy: reading a calldata struct re-validates every field at every read, and the event
    /// then needs its own calldata encoder; from memory, {ProductCreated} shares {getProduct}'s encoder (about 500
    /// bytes less code). Every check goes through {_requireValid}, one revert site for {ClaimsInvalidProduct}.
    function _createProduct(Product memory p) private returns (uint256 productId) {
        _requireValid(p.maxCoverage != 0 && p.maxCoverage <= type(uint96).max, ProductField.MaxCoverage);
        _requireValid(p.deductible < p.maxCoverage, ProductField.Deductible);
        _requireValid(p.claimDeposit <= type(uint96).max, ProductField.ClaimDeposit);
        _requireValid(p.premiumRateBps != 0, ProductField.PremiumRateBps);
        _requireValid(p.minDuration != 0 && p.minDuration <= p.maxDuration, ProductField.MinDuration);
        _requireValid(p.maxDuration <= MAX_POLICY_DURATION, ProductField.MaxDuration);
        _requireValid(p.waitingPeriod < p.maxDuration, ProductField.WaitingPeriod);
        _requireValid(p.claimWindow != 0, ProductField.ClaimWindow);
        _requireValid(p.assessmentWindow != 0, ProductField.AssessmentWindow);
        _requireValid(p.sensorSchema != bytes32(0), ProductField.SensorSchema);
        _requireValid(p.maxAnchorDelay != 0, ProductField.MaxAnchorDelay);
        _requireValid(
            uint256(p.incidentWindowBefore) + p.incidentWindowAfter <= MAX_INCIDENT_WINDOW, ProductField.IncidentWindow
        );
        // Cannot overflow: the counter grows by one per call; 2^256 calls are out of reach.
        unchecked {
            productId = ++_productCount;
        }
        if (productId > type(uint32).max) revert ClaimsValueTooLarge(productId);
        _products[productId] = p;
        emit ProductCreated(productId, p);
    }

    /// @dev The one place {ClaimsInvalidProduct} is raised.
    function _requireValid(bool valid, ProductField field) private pure {
        if (!valid) revert ClaimsInvalidProduct(field);
    }

    function _setProductModel(uint256 productId, bytes32 modelHash, bool allowed) private {
        _existingProduct(productId);
        if (modelHash == bytes32(0)) revert ClaimsZeroModel();
        uint16 ref;
        if (allowed) {
            ref = _modelRefs[modelHash];
            if (ref == 0) {
                _modelHashes.push(modelHash);
                uint256 length = _modelHashes.length;
                if (length > type(uint16).max) revert ClaimsValueTooLarge(length);
                ref = uint16(length);
                _modelRefs[modelHash] = ref;
            }
        }
        _productModels[productId][modelHash] = ref;
        emit ProductModelSet(productId, modelHash, allowed);
    }

    function _setProductGateway(uint256 productId, address gateway, bool accepted) private {
        _existingProduct(productId);
        if (gateway == address(0)) revert ClaimsZeroAddress();
        _productGateways[productId][gateway] = accepted;
        emit ProductGatewaySet(productId, gateway, accepted);
    }

    function _setProductActive(uint256 productId, bool active) private {
        _existingProduct(productId).active = active;
        emit ProductActiveSet(productId, active);
    }

    function _existingProduct(uint256 productId) private view returns (Product storage p) {
        p = _products[productId];
        // maxCoverage is non-zero for every created product.
        if (p.maxCoverage == 0) revert ClaimsUnknownProduct(productId);
    }

    // ------------------------------------------------------------------ internal: policies

    function _buyPolicy(address buyer, uint256 productId, address device, uint256 coverage, uint32 duration)
        private
        returns (uint256 policyId)
    {
        Product storage product = _existingProduct(productId);
        if (!product.active) revert ClaimsProductInactive(productId);
        _checkDevice(buyer, device, product.sensorSchema);
        if (coverage == 0 || coverage > product.maxCoverage) {
            revert ClaimsInvalidCoverage(coverage, product.maxCoverage);
        }
        if (duration < product.minDuration || duration > product.maxDuration) {
            revert ClaimsInvalidDuration(duration, product.minDuration, product.maxDuration);
        }
        _checkCanPay(product, coverage, duration);
        uint256 premium = PremiumMath.premium(coverage, product.premiumRateBps, duration);

        // Cannot overflow: the counter grows by one per call; 2^256 calls are out of reach.
        unchecked {
            policyId = ++_policyCount;
        }
        uint64 start = uint64(block.timestamp);
        uint64 end = start + duration;
        // coverage <= maxCoverage < 2^96 fits; the premium can exceed the coverage (rates above 100% a year), so it
        // is checked.
        if (premium > type(uint96).max) revert ClaimsValueTooLarge(premium);
        // A new id: its record is empty, so only the non-zero fields are written (field by field rather than a
        // struct literal: a memory struct copied into storage costs about 280 bytes more code).
        PolicyRecord storage p = _policies[policyId];
        p.coverage = uint96(coverage);
        p.device = device;
        p.productId = uint32(productId);
        p.start = start;
        p.end = end;
        p.premium = uint96(premium);
        _coveredUntil[device] = end;
        emit PolicyPurchased(policyId, productId, device, buyer, coverage, premium, start, end);

        token.safeTransferFrom(buyer, address(this), premium);
        pool.collectPremium(policyId, premium, start, end);
        pool.lock(coverage);
        _safeMint(buyer, policyId);
    }

    /// @dev A policy that could never pay is refused (audit L-3): no incident is covered when the term ends within
    /// the waiting period, and no payout is left when the coverage does not exceed the deductible.
    function _checkCanPay(Product storage product, uint256 coverage, uint32 duration) private view {
        uint32 waitingPeriod = product.waitingPeriod;
        if (duration <= waitingPeriod) revert ClaimsDurationNotAboveWaitingPeriod(duration, waitingPeriod);
        uint256 deductible = product.deductible;
        if (coverage <= deductible) revert ClaimsCoverageNotAboveDeductible(coverage, deductible);
    }

    /// @dev The buyer must own the device, which must be Active, of the product's sensor schema and not covered.
    /// One registry call for all three ({IDeviceRegistry-getDevice} would also copy and decode the metadata URI).
    function _checkDevice(address buyer, address device, bytes32 sensorSchema) private view {
        (address owner, IDeviceRegistry.DeviceStatus status, bytes32 schema) = registry.ownerStatusAndSchema(device);
        if (owner != buyer) revert ClaimsNotDeviceOwner(device, buyer, owner);
        if (status != IDeviceRegistry.DeviceStatus.Active) revert ClaimsDeviceNotActive(device, status);
        if (schema != sensorSchema) revert ClaimsSensorSchemaMismatch(device, schema, sensorSchema);
        uint64 coveredUntil = _coveredUntil[device];
        if (block.timestamp < coveredUntil) revert ClaimsDeviceAlreadyCovered(device, coveredUntil);
    }

    function _releaseCoverage(uint256 policyId) private {
        PolicyRecord storage p = _policies[policyId];
        if (p.start == 0) revert ClaimsUnknownPolicy(policyId);
        _requireCoverageFree(policyId, p);
        uint256 claimPeriodEnd;
        // Cannot overflow: a 64-bit time plus a 32-bit window in 256 bits.
        unchecked {
            claimPeriodEnd = uint256(p.end) + _products[p.productId].claimWindow;
        }
        if (block.timestamp <= claimPeriodEnd) revert ClaimsPolicyNotExpired(policyId, claimPeriodEnd);
        p.released = true;
        // Cannot underflow: paidOut <= coverage (C2).
        uint256 amount;
        unchecked {
            amount = p.coverage - p.paidOut;
        }
        emit CoverageReleased(policyId, amount);
        // amount > 0 here: a policy paid out in full was already released at settlement.
        pool.release(amount);
    }

    // ------------------------------------------------------------------ internal: claims

    function _fileClaim(
        address claimant,
        uint256 policyId,
        uint256 amount,
        uint64 incidentAt,
        bytes32 evidenceHash,
        string calldata evidenceURI
    ) private returns (uint256 claimId) {
        PolicyRecord storage p = _policies[policyId];
        Product storage product = _checkClaimable(claimant, policyId, p, amount, incidentAt);
        if (evidenceHash == bytes32(0)) revert ClaimsZeroEvidence();
        uint256 earlier = _evidenceClaims[evidenceHash];
        if (earlier != 0) revert ClaimsEvidenceAlreadyUsed(evidenceHash, earlier);

        // Cannot overflow: the counter grows by one per call; 2^64 calls are out of reach.
        unchecked {
            claimId = ++_claimCount;
        }
        _evidenceClaims[evidenceHash] = claimId;
        ClaimRecord storage c = _claims[claimId];
        uint40 assessmentDeadline = _recordClaim(c, p, product, policyId, amount, incidentAt);
        c.evidenceHash = evidenceHash;
        c.claimant = claimant;
        c.evidenceURI = evidenceURI;
        p.openClaimId = uint64(claimId);
        address device = p.device;
        _emitClaimFiled(claimId, policyId, device, claimant, amount, incidentAt, assessmentDeadline, evidenceHash, evidenceURI);
        _reserveIncidentWindow(claimId, device, product, incidentAt);

        uint256 deposit = c.deposit;
        if (deposit != 0) {
            _depositsHeld += uint192(deposit); // deposit < 2^96
            token.safeTransferFrom(claimant, address(this), deposit);
        }
    }

    /// @dev The caller holds the policy, which has no open claim and unreleased coverage covering `amount`, and
    /// the incident is covered; returns the policy's product.
    function _checkClaimable(
        address claimant,
        uint256 policyId,
        PolicyRecord storage p,
        uint256 amount,
        uint64 incidentAt
    ) private view returns (Product storage product) {
        _requireHolder(policyId, claimant);
        _requireCoverageFree(policyId, p);
        // Cannot underflow: paidOut <= coverage (C2).
        uint256 remaining;
        unchecked {
            remaining = p.coverage - p.paidOut;
        }
        if (amount == 0 || amount > remaining) revert ClaimsInvalidAmount(policyId, amount, remaining);
        product = _products[p.productId];
        _checkIncident(policyId, p, product, incidentAt);
        _checkDeviceAtIncident(p.device, incidentAt);
    }

    /// @dev The device was Active at the incident (audit M-2, I-1). Its status today does not matter: the device
    /// owner, who may not hold the policy, cannot void a claim by suspending, transferring or revoking the device
    /// after the incident; an incident while it was suspended or after it was revoked is not covered.
    function _checkDeviceAtIncident(address device, uint64 incidentAt) private view {
        IDeviceRegistry.DeviceStatus status = registry.statusAt(device, incidentAt);
        if (status != IDeviceRegistry.DeviceStatus.Active) {
            revert ClaimsDeviceNotActiveAtIncident(device, incidentAt, status);
        }
    }

    /// @dev The incident window of a claim of `product` at `incidentAt` (C5): `[incidentAt - incidentWindowBefore,
    /// incidentAt + incidentWindowAfter]`, the start clamped at 0.
    function _incidentWindow(Product storage product, uint64 incidentAt)
        private
        view
        returns (uint64 windowStart, uint64 windowEnd)
    {
        uint64 before = product.incidentWindowBefore;
        // Cannot underflow: checked in the condition. Cannot overflow: incidentAt <= block.timestamp (checked at
        // filing) plus a 32-bit window stays far below 2^64.
        unchecked {
            windowStart = incidentAt > before ? incidentAt - before : 0;
            windowEnd = incidentAt + product.incidentWindowAfter;
        }
    }

    /// @dev Reserves the claim's incident window for `device`, or reverts when it shares a minute with the window of
    /// an open or paid claim of the device (C5).
    function _reserveIncidentWindow(uint256 claimId, address device, Product storage product, uint64 incidentAt)
        private
    {
        (uint64 windowStart, uint64 windowEnd) = _incidentWindow(product, incidentAt);
        _markWindow(device, windowStart, windowEnd, true);
        emit IncidentWindowReserved(claimId, device, windowStart, windowEnd);
    }

    /// @dev Frees the incident window of a claim that ended unpaid (C5). Its minutes are its own: a window is
    /// reserved only when all its minutes are free, and released once (a claim is settled once, C3).
    function _releaseIncidentWindow(uint256 claimId, ClaimRecord storage c, address device) private {
        (uint64 windowStart, uint64 windowEnd) = _incidentWindow(_products[c.productId], uint64(c.incidentAt));
        _markWindow(device, windowStart, windowEnd, false);
        emit IncidentWindowReleased(claimId, device, windowStart, windowEnd);
    }

    /// @dev Takes (`take`; reverts with {ClaimsIncidentWindowTaken} if any of them is taken already) or frees every
    /// minute of `[windowStart, windowEnd]` for `device`. Bounded: a window of at most MAX_INCIDENT_WINDOW (product
    /// validation) spans at most 7 words.
    function _markWindow(address device, uint64 windowStart, uint64 windowEnd, bool take) private {
        uint256 first = windowStart / 60;
        uint256 last = windowEnd / 60;
        mapping(uint256 => uint256) storage words = _incidentMinutes[device];
        for (uint256 w = first >> 8; w <= last >> 8; ++w) {
            uint256 mask = _minuteMask(w, first, last);
            uint256 taken = words[w];
            if (take) {
                if (taken & mask != 0) revert ClaimsIncidentWindowTaken(device, windowStart, windowEnd);
                words[w] = taken | mask;
            } else {
                words[w] = taken & ~mask;
            }
        }
    }

    /// @dev The bits of word `w` for minutes `first..last` (inclusive).
    function _minuteMask(uint256 w, uint256 first, uint256 last) private pure returns (uint256) {
        uint256 low = w == first >> 8 ? first & 255 : 0;
        uint256 high = w == last >> 8 ? last & 255 : 255;
        return (type(uint256).max >> (255 - high)) & (type(uint256).max << low);
    }

    /// @dev `caller` holds the token of policy `policyId`, which exists.
    function _requireHolder(uint256 policyId, address caller) private view {
        address holder = _ownerOf(policyId);
        if (holder == address(0)) revert ClaimsUnknownPolicy(policyId);
        if (holder != caller) revert ClaimsNotPolicyHolder(policyId, caller, holder);
    }

    /// @dev The policy's coverage is not released and no claim is open on it. The two never hold at once (release
    /// needs no open claim, and a released policy takes no claim), so the order of the checks does not matter.
    function _requireCoverageFree(uint256 policyId, PolicyRecord storage p) private view {
        if (p.released) revert ClaimsCoverageReleased(policyId);
        uint64 openClaimId = p.openClaimId;
        if (openClaimId != 0) revert ClaimsClaimOpen(policyId, openClaimId);
    }

    /// @dev Writes the claim's terms, copying the product terms it needs later; returns the assessment deadline.
    function _recordClaim(
        ClaimRecord storage c,
        PolicyRecord storage p,
        Product storage product,
        uint256 policyId,
        uint256 amount,
        uint64 incidentAt
    ) private returns (uint40 assessmentDeadline) {
        assessmentDeadline = uint40(block.timestamp + product.assessmentWindow);
        c.status = ClaimStatus.Filed;
        c.appealWindow = product.appealWindow;
        c.assessmentDeadline = assessmentDeadline;
        c.policyId = uint64(policyId); // policy ids are minted sequentially
        c.amount = uint96(amount); // amount <= coverage < 2^96
        c.productId = p.productId;
        c.deposit = uint96(product.claimDeposit); // claimDeposit < 2^96 (product validation)
        c.deductible = uint96(product.deductible); // deductible < maxCoverage < 2^96
        c.incidentAt = uint40(incidentAt); // incidentAt <= block.timestamp
        c.filedAt = uint40(block.timestamp);
    }

    function _emitClaimFiled(
        uint256 claimId,
        uint256 policyId,
        address device,
        address claimant,
        uint256 amount,
        uint64 incidentAt,
        uint64 assessmentDeadline,
        bytes32 evidenceHash,
        string calldata evidenceURI
    ) private {
        emit ClaimFiled(
            claimId, policyId, device, claimant, amount, incidentAt, assessmentDeadline, evidenceHash, evidenceURI
        );
    }

    /// @dev start + waitingPeriod <= incidentAt < end, incidentAt <= now, and now <= incidentAt + claimWindow.
    /// The covered period is half-open (audit L-2): a renewal may start at `end` (see {_checkDevice}), so the
    /// instant `end` belongs to the next policy only, never to two.
    function _checkIncident(uint256 policyId, PolicyRecord storage p, Product storage product, uint64 incidentAt)
        private
        view
    {
        uint64 coveredFrom = p.start + product.waitingPeriod;
        uint64 end = p.end;
        if (incidentAt < coveredFrom || incidentAt >= end) {
            revert ClaimsIncidentNotCovered(policyId, incidentAt, coveredFrom, end);
        }
        if (incidentAt > block.timestamp) revert ClaimsIncidentInFuture(incidentAt, block.timestamp);
        uint256 closedAt;
        // Cannot overflow: a 64-bit time plus a 32-bit window in 256 bits.
        unchecked {
            closedAt = uint256(incidentAt) + product.claimWindow;
        }
        if (block.timestamp > closedAt) revert ClaimsClaimWindowClosed(policyId, incidentAt, closedAt);
    }

    /// @dev The verdict path (docs/protocol.md §10.4). Cheap checks on the claim first, then one external call to the
    /// committee (model approved + signatures), then the tally.
    function _submitVerdict(Verdict calldata v, bytes[] calldata signatures) private {
        uint256 claimId = v.claimId;
        ClaimRecord storage c = _claims[claimId];
        uint16 modelRef = _checkVerdict(claimId, c, v);
        if (signatures.length == 0) revert ClaimsNoSignatures(claimId);

        bytes32 digest = _hashTypedDataV4(VerdictHashing.structHash(v));
        (uint32 signers, uint8 threshold, uint32 version) =
            committee.verifyWithModel(digest, v.modelHash, signatures);
        bool hasTally = c.hasTally;
        if (hasTally) signers = _mergeTally(claimId, digest, signers, version);
        uint8 count = SignerBitmap.count(signers);
        emit VerdictSigned(claimId, digest, signers, count);
        if (count < threshold) {
            _tallies[digest] = Tally({signers: signers, configVersion: version});
            if (!hasTally) c.hasTally = true;
            return;
        }
        _decide(claimId, c, v, modelRef, digest);
    }

    /// @dev Every check of a verdict against the claim that needs no signature; returns the model's reference.
    function _checkVerdict(uint256 claimId, ClaimRecord storage c, Verdict calldata v)
        private
        view
        returns (uint16 modelRef)
    {
        if (c.status != ClaimStatus.Filed) _revertUnexpectedStatus(claimId, c.status);
        uint64 deadline = c.assessmentDeadline;
        if (v.deadline != deadline) revert ClaimsDeadlineMismatch(claimId, v.deadline, deadline);
        if (block.timestamp > deadline) revert ClaimsVerdictExpired(claimId, deadline, block.timestamp);
        bytes32 evidenceHash = c.evidenceHash;
        if (v.evidenceHash != evidenceHash) revert ClaimsEvidenceMismatch(claimId, v.evidenceHash, evidenceHash);
        _checkDecision(claimId, v.approved, v.payout, c.amount);
        if (v.approved != (v.reason == 0)) revert ClaimsInvalidReason(claimId, v.approved, v.reason);
        if (v.scoreBps > _MAX_SCORE_BPS) revert ClaimsInvalidScore(claimId, v.scoreBps);
        uint32 productId = c.productId;
        modelRef = _productModels[productId][v.modelHash];
        if (modelRef == 0) revert ClaimsModelNotAllowed(productId, v.modelHash);
    }

    /// @dev Adds the signers already counted for `digest` under the current configuration `version` (a tally from
    /// an older version counts as empty) and refuses members counted twice.
    function _mergeTally(uint256 claimId, bytes32 digest, uint32 signers, uint32 version)
        private
        view
        returns (uint32)
    {
        Tally memory t = _tallies[digest];
        if (t.configVersion != version) return signers;
        uint32 repeated = t.signers & signers;
        if (repeated != 0) revert ClaimsDuplicateSigner(claimId, digest, repeated);
        return signers | t.signers;
    }

    /// @dev Runs each entry in an external self-call so that a failing entry rolls back alone.
    function _submitVerdicts(Verdict[] calldata verdicts, bytes[][] calldata signatures) private {
        uint256 n = verdicts.length;
        if (n != signatures.length) revert ClaimsLengthMismatch(n, signatures.length);
        for (uint256 i; i < n; ++i) {
            // A successful entry needs nothing more: its events were emitted inside.
            // solhint-disable-next-line no-empty-blocks
            try this.submitVerdictInBatch(verdicts[i], signatures[i]) {}
            catch (bytes memory reason) {
                emit VerdictSkipped(verdicts[i].claimId, i, reason);
            }
        }
    }

    /// @dev Records the committee's decision; a zero appeal window settles at once (parametric cover), otherwise an
    /// approval's payout is reserved in the pool until settlement (docs/protocol.md §12.3).
    function _decide(uint256 claimId, ClaimRecord storage c, Verdict calldata v, uint16 modelRef, bytes32 digest)
        private
    {
        bool approved = v.approved;
        uint32 appealWindow = c.appealWindow;
        c.status = approved ? ClaimStatus.Approved : ClaimStatus.Rejected;
        c.approved = approved;
        c.scoreBps = v.scoreBps;
        c.modelRef = modelRef;
        c.reason = v.reason;
        c.appealDeadline = uint40(block.timestamp + appealWindow);
        c.payout = uint96(v.payout); // payout <= amount < 2^96 (checked)
        emit VerdictFinalised(claimId, approved, v.payout, v.scoreBps, v.reason, v.modelHash, digest);
        if (appealWindow == 0) _settle(claimId, c);
        else if (approved) _reservePayout(claimId, v.payout, c.deductible);
    }

    /// @dev Reserves in the pool what a claim would pay (`claimed - deductible`), if anything; {_settle}'s
    /// `payClaim` (or {_resolve}) releases it.
    function _reservePayout(uint256 claimId, uint256 claimed, uint256 deductible) private {
        if (claimed > deductible) pool.reservePayout(claimId, claimed - deductible);
    }

    /// @dev The one place {ClaimsUnexpectedStatus} is encoded (six call sites). The status tests stay at the call
    /// sites: a helper that also tested would save about 140 more bytes but cost 70-100 gas on every verdict and
    /// settlement (measured with tools/gas-snapshot.ts).
    function _revertUnexpectedStatus(uint256 claimId, ClaimStatus status) private pure {
        revert ClaimsUnexpectedStatus(claimId, status);
    }

    /// @dev `payout <= amount` for an approval, zero for a rejection.
    function _checkDecision(uint256 claimId, bool approved, uint256 payout, uint256 amount) private pure {
        uint256 max = approved ? amount : 0;
        if (payout > max) revert ClaimsPayoutTooHigh(claimId, payout, max);
    }

    function _appeal(uint256 claimId, address by, bool byInsurer) private {
        ClaimRecord storage c = _claims[claimId];
        ClaimStatus status = c.status;
        if (byInsurer) {
            if (status != ClaimStatus.Approved) _revertUnexpectedStatus(claimId, status);
        } else {
            if (status != ClaimStatus.Approved && status != ClaimStatus.Rejected) {
                _revertUnexpectedStatus(claimId, status);
            }
            _requireHolder(c.policyId, by);
            if (status == ClaimStatus.Approved && c.payout >= c.amount) {
                revert ClaimsNothingToAppeal(claimId, c.payout, c.amount);
            }
        }
        uint40 appealDeadline = c.appealDeadline;
        if (block.timestamp >= appealDeadline) {
            revert ClaimsAppealWindowClosed(claimId, appealDeadline, block.timestamp);
        }
        c.status = ClaimStatus.Appealed;
        emit ClaimAppealed(claimId, by, status);
    }

    function _escalate(uint256 claimId) private {
        ClaimRecord storage c = _claims[claimId];
        if (c.status != ClaimStatus.Filed) _revertUnexpectedStatus(claimId, c.status);
        uint40 deadline = c.assessmentDeadline;
        if (block.timestamp <= deadline) revert ClaimsAssessmentPending(claimId, deadline, block.timestamp);
        c.status = ClaimStatus.Escalated;
        emit ClaimEscalated(claimId, msg.sender);
        // Undecided with no deadline for the arbiter: the most it can pay is reserved (docs/protocol.md §12.3).
        _reservePayout(claimId, c.amount, c.deductible);
    }

    function _resolve(uint256 claimId, bool approved, uint256 payout) private {
        ClaimRecord storage c = _claims[claimId];
        ClaimStatus status = c.status;
        if (status != ClaimStatus.Appealed && status != ClaimStatus.Escalated) {
            _revertUnexpectedStatus(claimId, status);
        }
        _checkDecision(claimId, approved, payout, c.amount);
        c.approved = approved;
        c.payout = uint96(payout); // payout <= amount < 2^96 (checked)
        emit ClaimResolved(claimId, approved, payout, msg.sender);
        _settle(claimId, c);
        // A payment released the claim's reserve; otherwise release it here (a no-op when there was none).
        if (c.status != ClaimStatus.Paid) pool.reservePayout(claimId, 0);
    }

    /// @dev {settle}: a decided claim after its appeal window.
    function _settleDecided(uint256 claimId) private {
        ClaimRecord storage c = _claims[claimId];
        ClaimStatus status = c.status;
        if (status != ClaimStatus.Approved && status != ClaimStatus.Rejected) {
            _revertUnexpectedStatus(claimId, status);
        }
        if (block.timestamp < c.appealDeadline) {
            revert ClaimsAppealWindowOpen(claimId, c.appealDeadline, block.timestamp);
        }
        _settle(claimId, c);
    }

    /// @dev THE settlement choke point (C3): moves the claim to Paid or Closed, pays `payout - deductible` to the
    /// policy token's current holder, refunds the deposit unless the claim ends rejected (then it goes to the
    /// pool), frees the policy for its next claim, and releases the incident window of a claim that ends unpaid
    /// (C5).
    function _settle(uint256 claimId, ClaimRecord storage c) private {
        bool approved = c.approved;
        uint256 policyId = c.policyId;
        PolicyRecord storage p = _policies[policyId];
        address holder = _ownerOf(policyId);
        uint256 paid;
        if (approved) {
            uint256 payout = c.payout;
            uint256 deductible = c.deductible;
            // Cannot underflow: payout > deductible.
            unchecked {
                if (payout > deductible) paid = payout - deductible;
            }
        }
        ClaimStatus outcome = paid != 0 ? ClaimStatus.Paid : ClaimStatus.Closed;
        c.status = outcome;
        // Cannot overflow: paid <= payout <= amount <= coverage - paidOut (C2), so the sum is <= coverage < 2^96.
        uint96 paidOut;
        unchecked {
            paidOut = p.paidOut + uint96(paid);
        }
        p.paidOut = paidOut;
        p.openClaimId = 0;
        // Fully paid out: nothing of the policy is locked any more (C1).
        if (paid != 0 && paidOut == p.coverage) p.released = true;
        uint256 deposit = c.deposit;
        emit ClaimSettled(claimId, holder, outcome, paid, approved ? deposit : 0);
        if (paid == 0) _releaseIncidentWindow(claimId, c, p.device);

        if (paid != 0) pool.payClaim(claimId, holder, paid);
        if (deposit != 0) {
            // Cannot underflow: {_fileClaim} added this claim's deposit, and a claim settles once (C3, C4).
            unchecked {
                _depositsHeld -= uint192(deposit);
            }
            if (approved) token.safeTransfer(holder, deposit);
            else pool.collectForfeit(claimId, deposit);
        }
    }

    // ------------------------------------------------------------------ internal: admin

    /// @dev Sends `balance - _depositsHeld` (C4), if positive, to the pool's treasury.
    function _sweepSurplus() private returns (uint256 amount) {
        uint256 balance = token.balanceOf(address(this));
        uint256 held = _depositsHeld;
        // Cannot underflow: checked in the condition.
        unchecked {
            amount = balance > held ? balance - held : 0;
        }
        address to = pool.treasury();
        emit SurplusSwept(to, amount);
        if (amount != 0) token.safeTransfer(to, amount);
    }
}
